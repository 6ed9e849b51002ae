/** A JSON value: what metadata and timeline details may hold (and what crosses RPC intact). */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
