package main

import (
	"bytes"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func boltCheck(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer db.Close()
	db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("bbolt check: %v", err)
		}
		return nil
	})
}

// A full disk (here: a file size limit) fails the run with a clear error and
// a non-zero exit, and leaves a database that the next run uses.
func TestDiskFull(t *testing.T) {
	srv, _ := site(t)
	cfg := writeConfig(t, srv.URL, "")
	db := filepath.Join(filepath.Dir(cfg), "raqib.db")
	if _, _, code := raqib(t, "seeds", "import", "--config", cfg); code != 0 {
		t.Fatal("seeds import failed")
	}
	fi, _ := os.Stat(db)
	limitKiB := fi.Size()/1024 + 4 // room for the file as it is, not for growth
	cmd := exec.Command("bash", "-c", "ulimit -f "+strconv.FormatInt(limitKiB, 10)+" && exec \"$0\" poll --once --config \"$1\"", binary, cfg)
	out, err := cmd.CombinedOutput()
	code := cmd.ProcessState.ExitCode()
	if err == nil || code == 0 {
		t.Fatalf("a full disk should fail the run:\n%s", out)
	}
	if !strings.Contains(string(out), "file too large") && !strings.Contains(string(out), "cannot be written") {
		t.Errorf("error does not say what is wrong:\n%s", out)
	}
	boltCheck(t, db)
	// With room again, the next run stores everything: what the failed run
	// committed stays, what it could not commit is fetched again.
	if out, _, code := raqib(t, "poll", "--once", "--config", cfg); code != 0 {
		t.Errorf("after the disk was freed: exit %d\n%s", code, out)
	}
	boltCheck(t, db)
	if e := exportJSON(t, cfg, "--all", "--limit", "0"); len(e.Items) != 7 {
		t.Errorf("%d items stored, want 7", len(e.Items))
	}
}

// A database raqib may not write gives a clear error and is left as it was.
func TestReadOnlyDatabase(t *testing.T) {
	srv, _ := site(t)
	cfg := writeConfig(t, srv.URL, "")
	dir := filepath.Dir(cfg)
	db := filepath.Join(dir, "raqib.db")
	raqib(t, "seeds", "import", "--config", cfg)
	os.Chmod(db, 0o444)
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(filepath.Join(dir, "config.yaml"), 0o644)
	before, _ := os.ReadFile(db)
	cmd := exec.Command(binary, "poll", "--once", "--config", cfg)
	if os.Getuid() == 0 {
		// root writes any file: run as nobody, as an operator's service would.
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("a read-only database should fail the run:\n%s", out)
	}
	if !strings.Contains(string(out), "cannot write it") {
		t.Errorf("error does not say what is wrong:\n%s", out)
	}
	after, _ := os.ReadFile(db)
	if sha256.Sum256(before) != sha256.Sum256(after) || !bytes.Equal(before, after) {
		t.Error("the read-only database changed")
	}
}
