// Package pgtest gives tests a PostgreSQL database of their own, on the
// server RAQIB_TEST_PG_DSN names (.ci/run starts one on loopback).
package pgtest

import (
	"context"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// DSN is the test server's: without one the test skips, but not in CI,
// where a missing server is a failure.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("RAQIB_TEST_PG_DSN")
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("RAQIB_TEST_PG_DSN is not set: .ci/run starts PostgreSQL and sets it")
		}
		t.Skip("RAQIB_TEST_PG_DSN is not set (a postgres:// URL of a server to test against)")
	}
	return dsn
}

var notName = regexp.MustCompile(`[^a-z0-9_]+`)

// FreshDB creates an empty database for the test, dropped after it, and
// returns its DSN.
func FreshDB(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	dsn := DSN(t)
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		t.Fatalf("RAQIB_TEST_PG_DSN is not a postgres:// URL: %q", dsn)
	}
	name := "raqib_t_" + notName.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 60 {
		name = name[:60]
	}
	ident := pgx.Identifier{name}.Sanitize()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c, err := pgx.Connect(context.Background(), dsn); err == nil {
			c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)")
			c.Close(context.Background())
		}
	})
	u.Path = "/" + name
	return u.String()
}
