// Package corpus reads the seed corpus: a folder of known articles, one per
// .txt file, that new items are recognised against.
package corpus

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Doc is one seed article.
type Doc struct {
	Name string    // file name
	Date time.Time // from a "date YYYY-MM-DD" header, else zero
	Text string
	Hash string // of the text, to tell an edited file from an unchanged one
}

// ParseFile parses one seed file's bytes. The first line may start with
// "date YYYY-MM-DD" (leading spaces allowed) followed by the start of the text.
func ParseFile(name string, data []byte) (*Doc, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("seed %s: not UTF-8 text; convert it (e.g. iconv -f WINDOWS-1256 -t UTF-8)", name)
	}
	text := strings.TrimPrefix(string(data), "\ufeff")
	text = strings.ReplaceAll(text, "\r\n", "\n")
	d := &Doc{Name: name}
	trimmed := strings.TrimLeft(text, " \t")
	if rest, ok := strings.CutPrefix(trimmed, "date "); ok {
		rest = strings.TrimLeft(rest, " \t")
		if len(rest) < 10 {
			return nil, fmt.Errorf("seed %s: line 1: \"date\" needs YYYY-MM-DD", name)
		}
		t, err := time.Parse("2006-01-02", rest[:10])
		if err != nil {
			return nil, fmt.Errorf("seed %s: line 1: bad date %q: want YYYY-MM-DD", name, rest[:10])
		}
		d.Date = t
		text = rest[10:]
	}
	d.Text = strings.TrimSpace(text)
	if d.Text == "" {
		return nil, fmt.Errorf("seed %s: no text", name)
	}
	sum := sha256.Sum256([]byte(d.Text))
	d.Hash = hex.EncodeToString(sum[:16])
	return d, nil
}

// Load reads every .txt file in dir, in name order.
func Load(ctx context.Context, dir string) ([]*Doc, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read seeds.dir: %w", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	var docs []*Doc
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") || !strings.EqualFold(filepath.Ext(e.Name()), ".txt") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read seed: %w", err)
		}
		d, err := ParseFile(e.Name(), data)
		if err != nil {
			return nil, err
		}
		docs = append(docs, d)
	}
	return docs, nil
}
