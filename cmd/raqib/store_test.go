package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDamagedStoreIsRefused: a truncated, emptied or overwritten store
// made raqib panic (exit 2, the code for configuration errors), start an
// empty store over it, or go on writing; now every command refuses it with
// one message that names the file and what to do, exit 1, and leaves the
// file as it was. `store check` lists what is wrong.
func TestDamagedStoreIsRefused(t *testing.T) {
	srv, _ := site(t)
	for _, damage := range []string{"empty", "truncated", "overwritten"} {
		t.Run(damage, func(t *testing.T) {
			cfg := writeConfig(t, srv.URL, "")
			if _, errOut, code := raqib(t, "poll", "--once", "--config", cfg); code != 0 {
				t.Fatalf("first poll: %d %s", code, errOut)
			}
			db := filepath.Join(filepath.Dir(cfg), "raqib.db")
			fi, _ := os.Stat(db)
			switch damage {
			case "empty":
				os.Truncate(db, 0)
			case "truncated":
				os.Truncate(db, fi.Size()/2)
			case "overwritten":
				f, _ := os.OpenFile(db, os.O_RDWR, 0)
				page := int64(os.Getpagesize())
				for p := int64(2); p < fi.Size()/page; p += 2 {
					f.WriteAt(bytes.Repeat([]byte{0xA5}, int(page)), p*page)
				}
				f.Close()
			}
			before, _ := os.ReadFile(db)
			for _, args := range [][]string{{"poll", "--once"}, {"feeds", "list"}, {"export"}, {"store", "check"}} {
				cmd := exec.Command(binary, append(args, "--config", cfg)...)
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				err := cmd.Run()
				code := cmd.ProcessState.ExitCode()
				if err == nil || code != 1 || !strings.Contains(out.String(), db) || !strings.Contains(out.String(), "damaged") ||
					!strings.Contains(out.String(), "backup") || strings.Contains(out.String(), "goroutine") {
					t.Errorf("%s on a %s store: exit %d\n%s", args, damage, code, out.String())
				}
			}
			after, _ := os.ReadFile(db)
			if !bytes.Equal(before, after) {
				t.Errorf("the %s store was changed", damage)
			}
		})
	}
}

// TestBackupWhileTheDaemonRuns: `raqib store backup FILE` beside a
// running daemon (which holds the file) gets a consistent copy through
// the API; the copy checks clean and exports what the daemon exports.
func TestBackupWhileTheDaemonRuns(t *testing.T) {
	srv, _ := site(t)
	cfg := writeConfig(t, srv.URL, "server: {listen: \"127.0.0.1:0\", token: \"t0ken\"}\n")
	cmd, logs := startDaemon(t, cfg)
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	waitFor(t, 20*time.Second, func() bool { return strings.Contains(logs.String(), "raqib started") }, logs)
	exportOf := func(cfg string) string {
		var out bytes.Buffer
		c := exec.Command(binary, "export", "--format", "json", "--all", "--limit", "0", "--config", cfg)
		c.Stdout = &out
		if err := c.Run(); err != nil {
			t.Fatalf("export: %v", err)
		}
		return out.String()
	}
	waitFor(t, 20*time.Second, func() bool { return strings.Count(exportOf(cfg), `"id"`) >= 5 }, logs)
	backup := filepath.Join(t.TempDir(), "copy.db")
	out, errOut, code := raqib(t, "store", "backup", backup, "--config", cfg)
	if code != 0 || !strings.Contains(out, "checked") || !strings.Contains(errOut, "asking it") {
		t.Fatalf("store backup: %d\n%s\n%s", code, out, errOut)
	}
	if out, _, code := raqib(t, "store", "check", "--file", backup); code != 0 || !strings.Contains(out, "no problem") {
		t.Errorf("store check of the backup: %d %s", code, out)
	}
	// The copy, as a store of its own, exports what the daemon exports.
	cfgData, _ := os.ReadFile(cfg)
	other := filepath.Join(filepath.Dir(backup), "config.yaml")
	os.WriteFile(other, []byte(strings.Replace(strings.Replace(string(cfgData), "path: raqib.db", "path: copy.db", 1), "listen: \"127.0.0.1:0\"", "listen: \"\"", 1)), 0o600)
	os.Symlink(filepath.Join(filepath.Dir(cfg), "seeds"), filepath.Join(filepath.Dir(backup), "seeds"))
	if a, b := exportOf(cfg), exportOf(other); a != b {
		t.Errorf("the backup exports differently from the daemon:\n%s\n---\n%s", a, b)
	}
	// Without the token the API refuses to hand out the store.
	wrong := strings.Replace(string(cfgData), "token: \"t0ken\"", "token: \"wrong\"", 1)
	wrong = strings.Replace(wrong, "path: raqib.db", "path: "+filepath.Join(filepath.Dir(cfg), "raqib.db"), 1)
	os.WriteFile(other, []byte(wrong), 0o600)
	if _, errOut, code := raqib(t, "store", "backup", filepath.Join(t.TempDir(), "x.db"), "--config", other); code == 0 || !strings.Contains(errOut, "401") {
		t.Errorf("a backup with the wrong token: %d %s", code, errOut)
	}
}

// TestReadCommandsNeedNoSendersSecrets: with a channel's secret in an
// environment variable that is not set, the commands that send nothing
// work (they exited 2), and those that send, and check, name the variable.
func TestReadCommandsNeedNoSendersSecrets(t *testing.T) {
	srv, _ := site(t)
	os.Unsetenv("RAQIB_TEST_UNSET_SECRET")
	cfg := writeConfig(t, srv.URL, `alerts:
  channels:
    - {name: hook, type: webhook, url: "http://127.0.0.1:1/hook", secret: "${RAQIB_TEST_UNSET_SECRET}"}
  rules:
    - {name: libya, query: "ليبيا", channels: [hook]}
`)
	for _, args := range [][]string{{"feeds", "list"}, {"stories"}, {"feeds", "export-opml"}, {"export"}, {"alerts", "list"}} {
		if _, errOut, code := raqib(t, append(args, "--config", cfg)...); code != 0 {
			t.Errorf("%v without the sender's secret: exit %d\n%s", args, code, errOut)
		}
	}
	for _, args := range [][]string{{"poll", "--once"}, {"check"}} {
		out, errOut, code := raqib(t, append(args, "--config", cfg)...)
		if code != 2 || !strings.Contains(out+errOut, "RAQIB_TEST_UNSET_SECRET") {
			t.Errorf("%v without the sender's secret: exit %d\n%s%s", args, code, out, errOut)
		}
	}
}

// The commands that take a subcommand print their usage for --help and
// exit 0 (they exited 2, as for a mistake); a wrong subcommand is still 2.
func TestGroupHelp(t *testing.T) {
	for cmd := range groupUsage {
		for _, help := range []string{"--help", "-h", "help"} {
			out, _, code := raqib(t, cmd, help)
			if code != 0 || !strings.Contains(out, "Usage: raqib "+cmd) {
				t.Errorf("raqib %s %s: exit %d\n%s", cmd, help, code, out)
			}
		}
		if _, _, code := raqib(t, cmd, "no-such-subcommand"); code != 2 {
			t.Errorf("raqib %s no-such-subcommand: exit %d", cmd, code)
		}
	}
}

// TestOPMLImportKeepsTheFile: importing a reader's OPML into a commented
// config.yaml keeps every line of it where it was (the import used to
// re-encode the file: blank lines and aligned comments lost), adds the
// feeds with their folders as tags, reports a bad outline and goes on;
// --dry-run changes nothing. A rule may then watch a tag.
func TestOPMLImportKeepsTheFile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	original := `# The desk's configuration.
storage: {path: raqib.db}

feeds:
  # Libya first.
  - {name: wasat,  url: "https://alwasat.example/feed",  language: ar}   # aligned
  - {name: observer, url: "https://libyaobserver.example/rss"}

  # - {name: old, url: "https://old.example/rss"}   (kept for later)

alerts:
  rules:
    - {name: libya, query: "ليبيا"}
`
	os.WriteFile(cfg, []byte(original), 0o600)
	opml, _ := filepath.Abs("../../feeds/testdata/opml/inoreader.opml")
	out, errOut, code := raqib(t, "feeds", "import-opml", "--dry-run", "--config", cfg, opml)
	if code != 0 || !strings.Contains(out, "2 would be added") || !strings.Contains(errOut, `line 9: outline "Bad one"`) {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errOut)
	}
	if b, _ := os.ReadFile(cfg); string(b) != original {
		t.Fatal("--dry-run changed the file")
	}
	if out, errOut, code = raqib(t, "feeds", "import-opml", "--config", cfg, opml); code != 0 || !strings.Contains(out, "2 added") {
		t.Fatalf("import: exit %d\n%s\n%s", code, out, errOut)
	}
	b, _ := os.ReadFile(cfg)
	got := string(b)
	// Every original line, in order; the new ones after the list's last.
	rest := got
	for _, line := range strings.Split(original, "\n") {
		i := strings.Index(rest, line)
		if i < 0 {
			t.Fatalf("line %q lost or moved:\n%s", line, got)
		}
		rest = rest[i+len(line):]
	}
	if !strings.Contains(got, `  - {name: observer, url: "https://libyaobserver.example/rss"}
  - {name: hespress, url: 'https://hespress.example/feed', tags: [Maghreb], site_url: 'https://hespress.example/'}`) {
		t.Errorf("new entries not after the last feed, as its items are:\n%s", got)
	}
	// A rule on a tag: only that tag's feeds; a tag no feed has is an error.
	os.WriteFile(cfg, []byte(strings.Replace(got, `{name: libya, query: "ليبيا"}`, `{name: libya, query: "ليبيا", tags: [Gulf]}`, 1)), 0o600)
	if _, errOut, code := raqib(t, "check", "--config", cfg); code != 0 {
		t.Errorf("a rule on a tag: %d %s", code, errOut)
	}
	os.WriteFile(cfg, []byte(strings.Replace(got, `{name: libya, query: "ليبيا"}`, `{name: libya, query: "ليبيا", tags: [Nowhere]}`, 1)), 0o600)
	if out, errOut, code := raqib(t, "check", "--config", cfg); code != 2 || !strings.Contains(out+errOut, `no feed has the tag "Nowhere"`) {
		t.Errorf("a rule on a missing tag: %d %s%s", code, out, errOut)
	}
}
