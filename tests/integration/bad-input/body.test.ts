import { bodyRows } from "./body.rows";
import { describeBadInput } from "./support";

/** Bad bodies: their shape, fields the schema does not know, their size and Content-Type. */
describeBadInput(bodyRows);
