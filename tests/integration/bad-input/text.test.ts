import { describeBadInput } from "./support";
import { textRows } from "./text.rows";

/** Bad text: resource ids in the body, control characters and lone surrogates, metadata. */
describeBadInput(textRows);
