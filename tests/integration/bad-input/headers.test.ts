import { headerRows } from "./headers.rows";
import { describeBadInput } from "./support";

/** Bad headers: Idempotency-Key and authentication. */
describeBadInput(headerRows);
