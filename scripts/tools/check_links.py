#!/usr/bin/python3
"""Checks the relative links of the repository's Markdown files.

Fails (exit 1, one `file:line: link: reason` line each) on
  - a relative link whose target file or folder does not exist;
  - a `#anchor`, in the same file or in another .md file, that matches no
    heading there (GitHub's slugs: lower case, punctuation other than `-`
    and `_` dropped, spaces to `-`, repeated headings `-1`, `-2`, ...) and
    no `<a name=...>` / `id=...` anchor.
Links with a scheme (http:, https:, mailto:, ...) are not followed. Code
blocks and code spans are skipped.

Usage: scripts/tools/check_links.py [FILE.md ...]
Without arguments it checks every *.md file git knows in the repository
(tracked, plus new files that are not ignored). Needs only the standard
library (Debian's /usr/bin/python3).
"""

import os
import re
import subprocess
import sys
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
HTML_ANCHOR = re.compile(r"<a\s[^>]*?(?:name|id)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
# [text](target) and ![alt](target), an optional "title" after the target.
INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>\n]*>|[^()\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:[ \t]*(<[^>\n]*>|\S+)", re.MULTILINE)
HTML_LINK = re.compile(r"<(?:a|img)\s[^>]*?(?:href|src)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def blank_fences(text, keep_width):
    """The text with its fenced code blocks blanked: each of their lines
    becomes spaces (keep_width: offsets stay right) or an empty line."""
    out = []
    fence = None
    for line in text.splitlines(keepends=True):
        match = FENCE.match(line)
        opens = fence is None and match
        closes = fence is not None and match and match.group(1)[0] == fence[0] \
            and len(match.group(1)) >= len(fence) and line.strip() == match.group(1)
        if opens:
            fence = match.group(1)
        elif closes:
            fence = None
        elif fence is None:
            out.append(line)
            continue
        out.append(re.sub(r"[^\n]", " ", line) if keep_width else "\n")
    return "".join(out)


def blank_code(text):
    """The text with fenced code blocks and code spans replaced by spaces
    (newlines kept, so offsets and line numbers stay right)."""
    text = blank_fences(text, keep_width=True)
    # Code spans: a run of n backticks up to the next run of exactly n.
    return re.sub(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)",
                  lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.DOTALL)


def heading_text(raw):
    """What GitHub shows of a heading's Markdown: link text instead of links,
    no images, tags, emphasis markers or backticks."""
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", raw)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = text.replace("`", "")
    text = re.sub(r"\*+", "", text)
    return text.strip()


def slug(text):
    """GitHub's anchor for a heading's text (github-slugger, without the
    de-duplication)."""
    text = text.lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text):
    """Every anchor a Markdown text defines: its headings' slugs (repeated
    ones numbered as GitHub does) and explicit <a name=/id=> anchors."""
    found = set()
    counts = {}

    def add(heading):
        base = slug(heading_text(heading))
        candidate = base
        while candidate in counts:
            counts[base] += 1
            candidate = f"{base}-{counts[base]}"
        counts[candidate] = 0
        found.add(candidate)

    lines = blank_fences(text, keep_width=False).splitlines()
    previous = ""
    for line in lines:
        match = ATX_HEADING.match(line)
        if match:
            add(match.group(2) or "")
            previous = ""
            continue
        if SETEXT_UNDERLINE.match(line) and previous.strip() and not previous.startswith((" " * 4, "\t")) \
                and not re.match(r"^ {0,3}([-*+]|\d+[.)])\s", previous) and not previous.lstrip().startswith("|"):
            add(previous.strip())
            previous = ""
            continue
        previous = line
    for match in HTML_ANCHOR.finditer(blank_code(text)):
        found.add(match.group(1))
    return found


def links(text):
    """(line number, target) of every link of a Markdown text, code skipped."""
    visible = blank_code(text)
    found = []
    for pattern in (INLINE_LINK, REFERENCE_DEFINITION, HTML_LINK):
        for match in pattern.finditer(visible):
            target = match.group(1)
            if target.startswith("<") and target.endswith(">"):
                target = target[1:-1]
            found.append((visible.count("\n", 0, match.start(1)) + 1, target))
    return sorted(found)


class Checker:
    def __init__(self, root):
        self.root = root
        self.anchor_cache = {}

    def anchors_of(self, path):
        if path not in self.anchor_cache:
            with open(path, encoding="utf-8") as f:
                self.anchor_cache[path] = anchors(f.read())
        return self.anchor_cache[path]

    def problem(self, source, target):
        """Why `target`, linked from the file `source`, is broken; None if
        it resolves (or is not ours to check)."""
        if SCHEME.match(target) or target.startswith("//"):
            return None
        path_part, _, fragment = target.partition("#")
        path_part = urllib.parse.unquote(path_part)
        fragment = urllib.parse.unquote(fragment)
        if path_part == "":
            resolved = source
        elif path_part.startswith("/"):
            resolved = os.path.join(self.root, path_part.lstrip("/"))
        else:
            resolved = os.path.join(os.path.dirname(source), path_part)
        resolved = os.path.normpath(resolved)
        if not os.path.exists(resolved):
            return f"no such file: {os.path.relpath(resolved, self.root)}"
        if fragment and resolved.endswith(".md") and os.path.isfile(resolved):
            if fragment not in self.anchors_of(resolved):
                return f"no heading or anchor #{fragment} in {os.path.relpath(resolved, self.root)}"
        return None

    def check(self, path):
        """The `file:line: link: reason` lines of one Markdown file."""
        with open(path, encoding="utf-8") as f:
            text = f.read()
        lines = []
        for line, target in links(text):
            reason = self.problem(path, target)
            if reason:
                lines.append(f"{os.path.relpath(path, self.root)}:{line}: {target}: {reason}")
        return lines


def markdown_files(root):
    out = subprocess.run(
        ["git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "*.md"],
        check=True, capture_output=True).stdout.decode("utf-8")
    names = sorted({name for name in out.split("\0") if name})
    return [os.path.join(root, name) for name in names if os.path.isfile(os.path.join(root, name))]


def main(argv):
    files = [os.path.abspath(a) for a in argv[1:]] or markdown_files(ROOT)
    checker = Checker(ROOT)
    problems = []
    for path in files:
        problems.extend(checker.check(path))
    for line in problems:
        print(line)
    if problems:
        print(f"check_links: {len(problems)} broken link(s) in {len(files)} Markdown file(s)")
        return 1
    print(f"check_links: every relative link of {len(files)} Markdown file(s) resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
