package postgres

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/raqib/raqib/storage/postgres/pgtest"
)

func freshDB(t *testing.T) string { return pgtest.FreshDB(t) }

// openTest opens a store on a fresh database, closed after the test.
func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), freshDB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestOpenMigratesOnceAndAgain(t *testing.T) {
	dsn := freshDB(t)
	ctx := context.Background()
	// Two daemons starting at once: one migrates, the other waits for it.
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			s, err := Open(ctx, dsn)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil || len(files) < 3 {
		t.Fatalf("the migrations embedded: %v, %v", files, err)
	}
	var n int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM goose_db_version WHERE version_id > 0").Scan(&n); err != nil || n != len(files) {
		t.Errorf("migrations recorded: %d %v; want one for each of %v", n, err, files)
	}
}

func TestOpenSaysWhatFailed(t *testing.T) {
	_, err := Open(context.Background(), "postgres://raqib:secret@127.0.0.1:1/none?connect_timeout=2")
	if err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("a server that is not there: %v", err)
	}
	if _, err := Open(context.Background(), "host=x password='se cret' port=nope"); err == nil || !strings.Contains(err.Error(), "storage.dsn") || strings.Contains(err.Error(), "cret") {
		t.Errorf("a DSN that does not parse: %v", err)
	}
}
