# Reads feeds with Python's feedparser (Debian's python3-feedparser) and
# prints what a reader built on it sees, as JSON (export.TestFeedparserReads).
import json, sys
import feedparser
out = {}
for path in sys.argv[1:]:
    d = feedparser.parse(path)
    out[path] = {
        "bozo": int(d.bozo), "version": d.version, "error": str(d.get("bozo_exception", "")),
        "entries": [{"title": e.get("title", ""),
                     "enclosures": [[x.get("href", ""), x.get("type", ""), str(x.get("length", ""))] for x in e.get("enclosures", [])]}
                    for e in d.entries],
    }
print(json.dumps(out))
