import { pathRows } from "./paths.rows";
import { describeBadInput } from "./support";

/** Bad paths and queries: ids in paths, the timeline's query. */
describeBadInput(pathRows);
