#!/usr/bin/env node
// @ts-check
// `npm run test:links`: every relative link in the repository's Markdown must
// resolve inside the repository, so a fresh clone has everything it links to.
//
// Checked, in every *.md that git tracks (or would track: new, not ignored):
// inline links and images `[text](target)`, reference definitions
// `[ref]: target` and HTML `href` / `src` attributes, outside code blocks and
// code spans. A target must name a file or folder of the repository (not one
// that git ignores, not one outside it, such as `../elsewhere/…`); a `#anchor`
// must be a heading of the target Markdown file (GitHub's slugs, `-1`, `-2`
// for repeated headings) or an explicit `id` / `name`; on other files only
// GitHub's line anchors (`#L10`, `#L10-L20`) are accepted. Links with a scheme
// (https:, mailto:, …) and protocol-relative ones (`//host`) are skipped.
//
// Prints every broken link as file:line and exits 1 if there is any.

import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Files git tracks, plus new ones it does not ignore (paths relative to ROOT, with "/"). */
function repositoryFiles() {
  const out = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  return out.split("\0").filter((f) => f !== "" && existsSync(path.join(ROOT, f)));
}

/** Every folder that holds a repository file, the root included (""). */
function foldersOf(/** @type {string[]} */ files) {
  const folders = new Set([""]);
  for (const file of files) {
    for (let dir = path.posix.dirname(file); dir !== "." && !folders.has(dir); dir = path.posix.dirname(dir)) {
      folders.add(dir);
    }
  }
  return folders;
}

/**
 * The text with fenced code blocks and code spans blanked out (newlines kept,
 * so offsets and line numbers stay true).
 */
function withoutCode(/** @type {string} */ text) {
  const lines = text.split("\n");
  /** @type {{ char: string, length: number } | null} */
  let fence = null;
  for (let i = 0; i < lines.length; i++) {
    const line = /** @type {string} */ (lines[i]);
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fence) {
      const closes = marker?.[1] && marker[1][0] === fence.char && marker[1].length >= fence.length;
      if (closes && /^ {0,3}[`~]+\s*$/.test(line)) fence = null;
      lines[i] = " ".repeat(line.length);
    } else if (marker?.[1] && !(marker[1][0] === "`" && line.slice(marker[0].length).includes("`"))) {
      fence = { char: marker[1][0] ?? "`", length: marker[1].length };
      lines[i] = " ".repeat(line.length);
    }
  }
  return lines.join("\n").replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, (span) => span.replace(/[^\n]/g, " "));
}

/** GitHub's heading slug (github-slugger): lower case, punctuation dropped, spaces → "-". */
function slug(/** @type {string} */ heading) {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

/** The text a heading's Markdown renders to, which is what GitHub slugs. */
function headingText(/** @type {string} */ source) {
  /** @type {string[]} */
  const spans = [];
  let text = source.replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, (_, _ticks, code) => {
    spans.push(code.trim());
    return `\uE000${spans.length - 1}\uE000`;
  });
  text = text
    .replace(/!\[[^\]]*\]\([^)]*\)/g, "") // images render no text
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1") // inline links → their text
    .replace(/\[([^\]]*)\]\[[^\]]*\]/g, "$1") // reference links → their text
    .replace(/<[^>]+>/g, "") // HTML tags
    .replace(/(^|[^\p{L}\p{N}_])(_{1,3})(\S(?:.*?\S)?)\2(?![\p{L}\p{N}_])/gu, "$1$3") // _emphasis_
    .replace(/\\([!-/:-@[-`{-~])/g, "$1") // backslash escapes
    .replace(/&amp;/g, "&")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'");
  return text.replace(/\uE000(\d+)\uE000/g, (_, i) => spans[Number(i)] ?? "");
}

/** The anchors a Markdown file offers: heading slugs (with GitHub's -1, -2 for repeats) and explicit ids/names. */
function anchorsOf(/** @type {string} */ text) {
  const anchors = new Set();
  // As github-slugger does it: a repeated slug gets the next free "-<n>".
  /** @type {Map<string, number>} */
  const occurrences = new Map();
  const add = (/** @type {string} */ heading) => {
    const base = slug(headingText(heading));
    let candidate = base;
    while (occurrences.has(candidate)) {
      const n = (occurrences.get(base) ?? 0) + 1;
      occurrences.set(base, n);
      candidate = `${base}-${n}`;
    }
    occurrences.set(candidate, 0);
    anchors.add(candidate);
  };
  const lines = withoutCode(text).split("\n");
  const raw = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = /** @type {string} */ (lines[i]);
    if (/^ {0,3}#{1,6}(?:[ \t]|$)/.test(line)) {
      // Code spans were blanked for the scan; the heading is slugged from its source.
      add(/** @type {string} */ (raw[i]).replace(/^ {0,3}#{1,6}[ \t]*/, "").replace(/(?:[ \t]+#+)?[ \t]*$/, ""));
      continue;
    }
    const previous = i > 0 ? /** @type {string} */ (lines[i - 1]) : "";
    if (
      /^ {0,3}(=+|-+)[ \t]*$/.test(line) &&
      previous.trim() !== "" &&
      !/^ {0,3}([#>]|[-*+] |\d+[.)] )/.test(previous)
    ) {
      add(/** @type {string} */ (raw[i - 1]).trim());
    }
  }
  for (const m of text.matchAll(/<[a-z][^>]*?\s(?:id|name)\s*=\s*["']([^"']+)["']/gi)) anchors.add(m[1]);
  return anchors;
}

/** Where a link destination starts at `at` (just after "("): the destination, or null if there is none. */
function destinationAt(/** @type {string} */ text, /** @type {number} */ at) {
  let i = at;
  while (text[i] === " " || text[i] === "\t" || text[i] === "\n") i++;
  if (text[i] === "<") {
    const end = text.indexOf(">", i);
    return end === -1 ? null : text.slice(i + 1, end);
  }
  let depth = 0;
  let j = i;
  for (; j < text.length; j++) {
    const ch = text[j];
    if (ch === "\\") {
      j++;
      continue;
    }
    if (ch === " " || ch === "\t" || ch === "\n") break;
    if (ch === "(") depth++;
    if (ch === ")") {
      if (depth === 0) break;
      depth--;
    }
  }
  return text.slice(i, j);
}

/** Every link target in a Markdown text, with its line (1-based). */
function linksOf(/** @type {string} */ text) {
  const scan = withoutCode(text);
  /** @type {{ target: string, line: number }[]} */
  const links = [];
  const lineAt = (/** @type {number} */ offset) => scan.slice(0, offset).split("\n").length;
  for (const m of scan.matchAll(/\]\(/g)) {
    const at = /** @type {number} */ (m.index);
    if (!scan.slice(0, at).includes("[")) continue;
    const target = destinationAt(scan, at + 2);
    if (target !== null && target !== "") links.push({ target, line: lineAt(at) });
  }
  for (const m of scan.matchAll(/^ {0,3}\[[^\]\n]+\]:[ \t]*(?:<([^>\n]*)>|(\S+))/gm)) {
    links.push({ target: m[1] ?? m[2] ?? "", line: lineAt(/** @type {number} */ (m.index)) });
  }
  for (const m of scan.matchAll(/<(?:a|img|source|link)\b[^>]*?\s(?:href|src)\s*=\s*(?:"([^"]*)"|'([^']*)')/gi)) {
    links.push({ target: m[1] ?? m[2] ?? "", line: lineAt(/** @type {number} */ (m.index)) });
  }
  return links.sort((a, b) => a.line - b.line);
}

function decode(/** @type {string} */ value) {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function main() {
  const files = repositoryFiles();
  const fileSet = new Set(files);
  const folders = foldersOf(files);
  const markdown = files.filter((f) => f.toLowerCase().endsWith(".md"));
  /** @type {Map<string, string>} */
  const texts = new Map();
  const read = (/** @type {string} */ file) => {
    let text = texts.get(file);
    if (text === undefined) {
      text = readFileSync(path.join(ROOT, file), "utf8");
      texts.set(file, text);
    }
    return text;
  };
  /** @type {Map<string, Set<string>>} */
  const anchorCache = new Map();
  const anchors = (/** @type {string} */ file) => {
    let set = anchorCache.get(file);
    if (!set) {
      set = anchorsOf(read(file));
      anchorCache.set(file, set);
    }
    return set;
  };

  /** @type {string[]} */
  const broken = [];
  let checked = 0;
  for (const file of markdown) {
    for (const { target, line } of linksOf(read(file))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//")) continue;
      checked++;
      const where = `${file}:${line}`;
      const hash = target.indexOf("#");
      const pathPart = (hash === -1 ? target : target.slice(0, hash)).replace(/\?.*$/, "");
      const anchor = hash === -1 ? null : decode(target.slice(hash + 1));
      let resolved = file;
      if (pathPart !== "") {
        const decoded = decode(pathPart);
        const absolute = decoded.startsWith("/")
          ? path.resolve(ROOT, `.${decoded}`)
          : path.resolve(ROOT, path.dirname(file), decoded);
        const relative = path.relative(ROOT, absolute).split(path.sep).join("/");
        if (relative.startsWith("..") || path.isAbsolute(relative)) {
          broken.push(`${where}: ${target} points outside the repository`);
          continue;
        }
        if (!fileSet.has(relative) && !folders.has(relative)) {
          const why = existsSync(absolute) ? "is not in the repository (ignored by git)" : "does not exist";
          broken.push(`${where}: ${target} ${why}`);
          continue;
        }
        resolved = relative;
      }
      if (anchor === null || anchor === "") continue;
      if (folders.has(resolved) && !fileSet.has(resolved)) {
        broken.push(`${where}: ${target} has an anchor on a folder`);
      } else if (resolved.toLowerCase().endsWith(".md")) {
        if (!anchors(resolved).has(anchor)) {
          broken.push(`${where}: ${target} has no heading or id "${anchor}" in ${resolved}`);
        }
      } else {
        const lines = /^L(\d+)(?:-L(\d+))?$/.exec(anchor);
        const count = statSync(path.join(ROOT, resolved)).isFile() ? read(resolved).split("\n").length : 0;
        if (!lines || Number(lines[2] ?? lines[1]) > count || Number(lines[1]) < 1) {
          broken.push(`${where}: ${target} is not a line anchor (#L<n>) within ${resolved}`);
        }
      }
    }
  }

  if (broken.length > 0) {
    console.error(`check-links: ${broken.length} broken link(s) of ${checked} checked in ${markdown.length} files:`);
    for (const b of broken) console.error(`  ${b}`);
    process.exit(1);
  }
  console.log(`check-links: ${checked} relative links in ${markdown.length} Markdown files, all resolve.`);
}

main();
