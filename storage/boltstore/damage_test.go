package boltstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raqib/raqib/storage"
)

// damagedStore makes a store of n items and closes it.
func damagedStore(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "raqib.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var items []*storage.Item
	for i := range n {
		id := fmt.Sprintf("item%05d", i)
		items = append(items, &storage.Item{ID: id, Feed: "f", Title: id, Summary: strings.Repeat("نص الخبر ", 40) + id, Keys: []string{"url:" + id}, Cluster: id, Fetched: now, Fingerprint: []byte{2, 1, 2, 3}})
	}
	if _, err := s.Commit(context.Background(), &storage.Batch{Items: items}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// overwritePages writes fill's bytes over the file's pages in the range
// span gives for its page count.
func overwritePages(t *testing.T, path string, span func(pages int64) (from, to int64), fill func(junk []byte)) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	page := int64(os.Getpagesize())
	junk := make([]byte, page)
	from, to := span(fi.Size() / page)
	for p := from; p < to; p++ {
		fill(junk)
		if _, err := f.WriteAt(junk, p*page); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDamagedFilesAreRefused(t *testing.T) {
	ctx := context.Background()
	cases := map[string]func(t *testing.T, path string){
		"empty": func(t *testing.T, path string) { os.Truncate(path, 0) },
		"truncated to half": func(t *testing.T, path string) {
			fi, _ := os.Stat(path)
			os.Truncate(path, fi.Size()/2)
		},
		"garbage pages": func(t *testing.T, path string) {
			rng := rand.New(rand.NewPCG(1, 2))
			overwritePages(t, path, func(pages int64) (int64, int64) { return 2, pages }, func(junk []byte) { // every page but the two headers
				for i := range junk {
					junk[i] = byte(rng.IntN(256))
				}
			})
		},
		"a few garbage pages": func(t *testing.T, path string) {
			overwritePages(t, path, func(pages int64) (int64, int64) { return pages * 2 / 5, pages*2/5 + 4 }, func(junk []byte) {
				copy(junk, strings.Repeat("\xde\xad\xbe\xef", len(junk)/4))
			})
		},
		"headers overwritten": func(t *testing.T, path string) {
			f, _ := os.OpenFile(path, os.O_RDWR, 0)
			defer f.Close()
			f.WriteAt([]byte(strings.Repeat("x", 2*os.Getpagesize())), 0)
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			path := damagedStore(t, 3000)
			damage(t, path)
			before, _ := os.ReadFile(path)
			s, err := Open(path)
			if err == nil {
				// Some damage only shows when read: the first read says
				// so, and the store takes no more writes.
				var n int
				n, err = s.Check(ctx, nil)
				if err == nil && n == 0 {
					t.Fatal("a damaged file opened and checked clean")
				}
				if err == nil {
					err = s.Damaged()
				}
				if _, werr := s.Commit(ctx, &storage.Batch{Items: []*storage.Item{{ID: "new", Keys: []string{"url:new"}, Fetched: time.Now()}}}); !errors.Is(werr, ErrDamaged) {
					t.Errorf("a write to a damaged store: %v", werr)
				}
				s.Close()
			}
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "backup") {
				t.Fatalf("err = %v; want the damaged-file error naming the file and what to do", err)
			}
			after, _ := os.ReadFile(path)
			if string(before) != string(after) {
				t.Error("the damaged file was changed")
			}
		})
	}
}

// TestDamageMetWhileOpen: pages overwritten under a running store (a disk
// gone bad) are found by a check, and the store then takes no writes and
// says why, where before polls went on writing over them.
func TestDamageMetWhileOpen(t *testing.T) {
	ctx := context.Background()
	path := damagedStore(t, 3000)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.Check(ctx, nil); err != nil || n != 0 {
		t.Fatalf("a sound store: %d problems, %v", n, err)
	}
	overwritePages(t, path, func(pages int64) (int64, int64) { return pages / 3, pages/3 + 3 }, func(junk []byte) {
		copy(junk, strings.Repeat("\xff", len(junk)))
	})
	var problems []string
	n, err := s.Check(ctx, func(p string) { problems = append(problems, p) })
	if err == nil && n == 0 {
		t.Fatal("the check found nothing")
	}
	if !errors.Is(s.Damaged(), ErrDamaged) {
		t.Errorf("Damaged() = %v after the check found %v", s.Damaged(), problems)
	}
	if err := s.PutFeed(ctx, &storage.FeedState{Name: "f"}); !errors.Is(err, ErrDamaged) {
		t.Errorf("a write after the damage was found: %v", err)
	}
}
