package export

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/raqib/raqib/parallel"
)

// A feed's head says things of all its entries (their language, the
// newest one's date), so a feed cannot be written in order as its
// entries are read. Rendering them all in memory first held a whole
// export there: `export --limit 0` of 200,000 items took 2.6 GB. A
// stream renders each entry as it comes, moves what it has rendered to
// a temporary file past spillAt, and writes the head, the entries and
// the tail at the end.

// format renders one feed format: its frame (the document around the
// entries) and each entry, as it sits in the document.
type format struct {
	sep   string // between two entries
	frame func(m Meta, h *header) (head, tail []byte, err error)
	entry func(b *bytes.Buffer, m Meta, e Entry) error
}

var formats = map[string]format{"json": jsonFormat, "rss": rssFormat, "atom": atomFormat}

// header is what a feed's head says of its entries.
type header struct {
	entries  int
	language string // that of most entries: the first to reach the most
	most     int
	count    map[string]int
	newest   time.Time
}

func (h *header) add(e Entry) {
	h.entries++
	l := Language(e.Item)
	h.count[l]++
	if l != "" && h.count[l] > h.most {
		h.language, h.most = l, h.count[l]
	}
	if u := updated(e); u.After(h.newest) {
		h.newest = u
	}
}

// newestTime is the newest entry's date, or the epoch for no entries.
func (h *header) newestTime() time.Time {
	if h.newest.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return h.newest.UTC()
}

// spillAt is how many bytes of rendered entries a stream holds in memory
// before it moves them to a temporary file.
var spillAt = 8 << 20

// Stream writes a feed in a format (json, rss or atom) whose entries next
// gives a page at a time, until an empty page.
func Stream(w io.Writer, formatName string, m Meta, next func() ([]Entry, error)) error {
	f, ok := formats[formatName]
	if !ok {
		return fmt.Errorf("export: no format %q", formatName)
	}
	h := &header{count: map[string]int{}}
	var buf bytes.Buffer
	var spill *os.File
	defer func() {
		if spill != nil {
			spill.Close()
		}
	}()
	for {
		page, err := next()
		if err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		// Rendering (sanitising HTML, encoding) is most of an export's
		// time: a page's entries are rendered on every core, then put in
		// order.
		rendered := make([]bytes.Buffer, len(page))
		errs := make([]error, len(page))
		parallel.Each(len(page), func(i int) { errs[i] = f.entry(&rendered[i], m, page[i]) })
		for i, e := range page {
			if errs[i] != nil {
				return fmt.Errorf("export item %s: %w", e.Item.ID, errs[i])
			}
			if h.entries > 0 {
				buf.WriteString(f.sep)
			}
			buf.Write(rendered[i].Bytes())
			h.add(e)
		}
		if buf.Len() < spillAt {
			continue
		}
		if spill == nil {
			if spill, err = os.CreateTemp("", "raqib-export-*"); err != nil {
				return fmt.Errorf("export: a temporary file for the entries: %w", err)
			}
			os.Remove(spill.Name()) // open, it stays until closed; nothing is left behind
		}
		if _, err := buf.WriteTo(spill); err != nil {
			return fmt.Errorf("export: write the entries to a temporary file in %s: %w", os.TempDir(), err)
		}
	}
	head, tail, err := f.frame(m, h)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if _, err := w.Write(head); err != nil {
		return err
	}
	if spill != nil {
		if _, err := spill.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("export: read back the entries: %w", err)
		}
		if _, err := io.Copy(w, spill); err != nil {
			return err
		}
	}
	if _, err := buf.WriteTo(w); err != nil {
		return err
	}
	_, err = w.Write(tail)
	return err
}

// write is Stream of one page.
func write(w io.Writer, formatName string, m Meta, entries []Entry) error {
	done := false
	return Stream(w, formatName, m, func() ([]Entry, error) {
		if done {
			return nil, nil
		}
		done = true
		return entries, nil
	})
}

// WriteJSON writes a JSON Feed 1.1 document.
func WriteJSON(w io.Writer, m Meta, entries []Entry) error { return write(w, "json", m, entries) }

// WriteRSS writes an RSS 2.0 document.
func WriteRSS(w io.Writer, m Meta, entries []Entry) error { return write(w, "rss", m, entries) }

// WriteAtom writes an Atom 1.0 feed document.
func WriteAtom(w io.Writer, m Meta, entries []Entry) error { return write(w, "atom", m, entries) }
