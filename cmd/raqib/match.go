package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/raqib/raqib/rules"
	"github.com/raqib/raqib/textnorm"
)

// cmdMatch is grep for rule queries: each matching file, with the matched
// words in context. Exit 0 when something matched, 1 when nothing did, 2
// for an invalid query.
func cmdMatch(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs, _ := flags("match", "match --query 'QUERY' [FILE...]   (standard input without files)", stderr)
	query := fs.String("query", "", "the rule query to test")
	quiet := fs.Bool("quiet", false, "print nothing; only the exit status")
	// Files follow the flags, so parse them by hand to allow flags after files too.
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{2, errors.New("")}
	}
	files := fs.Args()
	if *query == "" {
		return usageErr("match: --query is required")
	}
	q, err := rules.Parse(*query)
	if err != nil {
		return &exitError{2, err}
	}
	matched := false
	check := func(name string, data []byte) {
		text := string(data)
		if textnorm.LooksLikeHTML(text) {
			text = textnorm.HTMLToText(text)
		}
		t := rules.NewText("", text)
		ok, hits := t.Match(q)
		if !ok {
			return
		}
		matched = true
		if !*quiet {
			fmt.Fprintf(stdout, "%s: %s\n", name, rules.ContextIn(text, t, hits, 6))
		}
	}
	if len(files) == 0 {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return fmt.Errorf("read standard input: %w", err)
		}
		check("(standard input)", data)
	}
	var failed error
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(stderr, "raqib: match:", err)
			failed = err
			continue
		}
		check(f, data)
	}
	if failed != nil && !matched {
		return &exitError{2, errors.New("")}
	}
	if !matched {
		return &exitError{1, errors.New("")}
	}
	return nil
}
