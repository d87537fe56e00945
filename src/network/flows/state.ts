/**
 * Layout of one flow's running state inside the flow table's Float64Array (array of structs, STRIDE doubles per
 * flow). Times are nanoseconds relative to the table's base second; sizes are IP-layer bytes. Running means and
 * variances use Welford's update, so nothing grows with the number of packets.
 */
let next = 0;
const field = () => next++;

export const F_FIRST_T = field();
export const F_LAST_T = field();
/** Time of the previous packet in arrival order (for packet-to-packet gaps). */
export const F_PREV_T = field();
export const F_FIRST_SEC = field();
export const F_FIRST_NSEC = field();
export const F_LAST_SEC = field();
export const F_LAST_NSEC = field();
/** Table time at the last packet (drives idle expiry), and at TCP close (drives the close linger). */
export const F_TOUCH = field();
export const F_CLOSE_T = field();
export const F_FLAGS = field();
export const F_SOURCE = field();
/** Why a retired flow ended (index into END_REASONS). */
export const F_END_REASON = field();

/** Per-direction blocks: add F_FWD or F_BWD to these offsets. */
export const D_COUNT = 0;
export const D_SIZE_SUM = 1;
export const D_SIZE_MEAN = 2;
export const D_SIZE_M2 = 3;
export const D_SIZE_MIN = 4;
export const D_SIZE_MAX = 5;
export const D_PREV_T = 6;
export const D_IAT_SUM = 7;
export const D_IAT_MEAN = 8;
export const D_IAT_M2 = 9;
export const D_IAT_MIN = 10;
export const D_IAT_MAX = 11;
export const D_PAYLOAD_BYTES = 12;
export const D_PAYLOAD_PACKETS = 13;
export const D_INIT_WINDOW = 14;
const DIRECTION_FIELDS = 15;

export const F_FWD = next;
next += DIRECTION_FIELDS;
export const F_BWD = next;
next += DIRECTION_FIELDS;

/** Both directions together. */
export const F_SIZE_MEAN = field();
export const F_SIZE_M2 = field();
export const F_IAT_MEAN = field();
export const F_IAT_M2 = field();
export const F_IAT_MIN = field();
export const F_IAT_MAX = field();
/** TCP flag counts, FIN … CWR in bit order. */
export const F_TCP_FLAG_COUNTS = next;
next += 8;
/** Packets in the flow when a live detector last scored it (0: never; see FlowTable's scoring points). */
export const F_SCORED = field();

export const STRIDE = next;

/** Bits of F_FLAGS. */
export const FLAG_FWD_IS_LOWER = 1;
export const FLAG_FIN_FWD = 2;
export const FLAG_FIN_BWD = 4;
export const FLAG_RST = 8;
export const FLAG_CLOSED = 16;
/** The flow began with a TCP SYN without ACK (a connection attempt). */
export const FLAG_SYN_OPEN = 32;
/** The flow had its early scoring (after N packets or T seconds). */
export const FLAG_EARLY_SCORED = 64;
