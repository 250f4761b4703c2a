// Command raqib-eval scores story recognition on labelled data through the
// real pipeline (fresh BoltDB store, pipeline.Ingest as the poller calls it),
// and explains each wrong verdict with the features the decision used.
//
//	go run ./cmd/raqib-eval stream ../shared/eval/neardup-dev.jsonl
//	go run ./cmd/raqib-eval pairs  ../shared/eval/pairs-dev.jsonl [-v]
//	go run ./cmd/raqib-eval fit [-warm] ../shared/eval/pairs-dev.jsonl ../shared/eval/pairs-rewrites-dev.jsonl
//
// The data files stay outside the project's tree (their licence does not
// allow redistribution); pass their paths.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/raqib/raqib/dedup"
	"github.com/raqib/raqib/pipeline"
	"github.com/raqib/raqib/storage"
	"github.com/raqib/raqib/storage/boltstore"
)

type doc struct {
	ID    string `json:"id"`
	Feed  string `json:"feed"`
	Title string `json:"title"`
	Body  string `json:"body"`
	Story string `json:"story"`
	Kind  string `json:"kind"`
}

type pair struct {
	Pair  int    `json:"pair"`
	Label string `json:"label"`
	Why   string `json:"why"`
	A     doc    `json:"a"`
	B     doc    `json:"b"`
}

func main() {
	verbose := flag.Bool("v", false, "print every verdict with its features")
	warm := flag.Bool("warm", false, "fit: weigh words by every document of the files, not by a fresh store's")
	folds := flag.Int("folds", 10, "fit: cross-validation folds")
	repeats := flag.Int("repeats", 5, "fit: cross-validation shuffles")
	flag.Parse()
	cmd := flag.Arg(0)
	if cmd == "fit" && flag.NArg() >= 2 {
		if err := fit(flag.Args()[1:], *warm, *verbose, *folds, *repeats); err != nil {
			fmt.Fprintln(os.Stderr, "raqib-eval:", err)
			os.Exit(1)
		}
		return
	}
	if flag.NArg() != 2 || (cmd != "stream" && cmd != "pairs") {
		fmt.Fprintln(os.Stderr, "usage: raqib-eval [-v] stream|pairs FILE.jsonl\n       raqib-eval [-warm] fit FILE.jsonl...")
		os.Exit(2)
	}
	var err error
	if cmd == "stream" {
		err = stream(flag.Arg(1), *verbose)
	} else {
		err = pairs(flag.Arg(1), *verbose)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "raqib-eval:", err)
		os.Exit(1)
	}
}

func lines[T any](path string) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var t T
		if err := json.Unmarshal(sc.Bytes(), &t); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, t)
	}
	return out, sc.Err()
}

// fresh opens a new store and pipeline in a temporary folder.
func fresh() (*pipeline.Pipeline, func(), error) {
	dir, err := os.MkdirTemp("", "raqib-eval")
	if err != nil {
		return nil, nil, err
	}
	st, err := boltstore.Open(filepath.Join(dir, "raqib.db"))
	if err != nil {
		return nil, nil, err
	}
	p, err := pipeline.New(context.Background(), st, 30*24*time.Hour, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, nil, err
	}
	return p, func() { st.Close(); os.RemoveAll(dir) }, nil
}

func ingest(p *pipeline.Pipeline, feed string, d doc, when time.Time) (*storage.Item, error) {
	it := &storage.Item{ID: d.ID, Feed: feed, URL: "http://eval.example/" + d.ID, Title: d.Title, Summary: d.Body,
		Published: when, Fetched: when, Keys: []string{"url:http://eval.example/" + d.ID}}
	res, err := p.Ingest(context.Background(), &storage.FeedState{Name: feed}, []*storage.Item{it})
	if err != nil {
		return nil, err
	}
	if len(res.Stored) != 1 {
		return nil, fmt.Errorf("item %s not stored", d.ID)
	}
	return res.Stored[0], nil
}

type score struct{ tp, fp, fn, tn int }

func (s score) print(name string) {
	p := float64(s.tp) / float64(max(1, s.tp+s.fp))
	r := float64(s.tp) / float64(max(1, s.tp+s.fn))
	f := 0.0
	if p+r > 0 {
		f = 2 * p * r / (p + r)
	}
	fmt.Printf("%s: %d duplicates, %d not; precision %.3f recall %.3f F1 %.3f (tp %d fp %d fn %d tn %d)\n",
		name, s.tp+s.fn, s.fp+s.tn, p, r, f, s.tp, s.fp, s.fn, s.tn)
}

func (s *score) add(want, got bool) string {
	switch {
	case want && got:
		s.tp++
	case want:
		s.fn++
		return "missed"
	case got:
		s.fp++
		return "wrongly merged"
	default:
		s.tn++
	}
	return ""
}

func stream(path string, verbose bool) error {
	docs, err := lines[doc](path)
	if err != nil {
		return err
	}
	p, done, err := fresh()
	if err != nil {
		return err
	}
	defer done()
	t0 := time.Now().Add(-24 * time.Hour)
	storyOf := map[string]string{} // item id -> story
	seen := map[string]bool{}
	var s score
	for k, d := range docs {
		it, err := ingest(p, d.Feed, d, t0.Add(time.Duration(k)*time.Minute))
		if err != nil {
			return err
		}
		storyOf[d.ID] = d.Story
		want := seen[d.Story]
		seen[d.Story] = true
		got := it.DuplicateOf != ""
		if got && want && storyOf[it.DuplicateOf] != d.Story {
			got = false // merged, but into the wrong story
		}
		if wrong := s.add(want, got); wrong != "" || verbose {
			fmt.Printf("  %s %-12s %s -> %s %.2f\n", d.ID, d.Kind, wrong, it.DuplicateOf, it.Similarity)
		}
	}
	s.print("stream")
	return nil
}

func pairs(path string, verbose bool) error {
	ps, err := lines[pair](path)
	if err != nil {
		return err
	}
	var s score
	now := time.Now()
	for _, pr := range ps {
		p, done, err := fresh()
		if err != nil {
			return err
		}
		pr.A.ID, pr.B.ID = fmt.Sprintf("p%da", pr.Pair), fmt.Sprintf("p%db", pr.Pair)
		if _, err := ingest(p, pr.A.Feed, pr.A, now.Add(-3*time.Hour)); err != nil {
			return err
		}
		it, err := ingest(p, pr.B.Feed, pr.B, now.Add(-2*time.Hour))
		done()
		if err != nil {
			return err
		}
		wrong := s.add(pr.Label == "dup", it.DuplicateOf != "")
		if wrong != "" || verbose {
			a, b := dedup.Prepare(pr.A.Title, pr.A.Body), dedup.Prepare(pr.B.Title, pr.B.Body)
			fmt.Printf("  pair %2d %-8s %-14s %s\n      %s\n", pr.Pair, pr.Label, wrong, dedup.Explain(b, a, nil), pr.Why)
		}
	}
	s.print("pairs")
	return nil
}
