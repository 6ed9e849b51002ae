import { fieldRows } from "./fields.rows";
import { describeBadInput } from "./support";

/** Bad values: quantities, and the fields of a resource. */
describeBadInput(fieldRows);
