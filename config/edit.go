package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// AddFeeds appends feeds to the configuration file's feeds list, skipping
// those whose URL is already there, and renaming those whose name is taken;
// it returns the feeds it added, as named in the file. The new entries are
// written as lines after the list's last, so the file's comments, blank
// lines and alignment stay as they were. The result is validated before it
// replaces the original, atomically, after a backup to FILE.bak; with
// dryRun nothing is written.
func AddFeeds(path string, feeds []Feed, dryRun bool) ([]Feed, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s is not valid YAML: %v", path, err)
	}
	root := doc.Content[0]
	list := nodeAt(root, "feeds")
	names, urls := map[string]bool{}, map[string]bool{}
	if list != nil {
		for _, n := range list.Content {
			var f Feed
			n.Decode(&f)
			names[f.Name], urls[f.URL] = true, true
		}
	}
	var added []Feed
	var lines []string
	for _, f := range feeds {
		if urls[f.URL] {
			continue
		}
		name := f.Name
		for i := 2; names[name]; i++ {
			name = fmt.Sprintf("%s-%d", f.Name, i)
		}
		names[name], urls[f.URL] = true, true
		f.Name = name
		line, err := flowEntry(f)
		if err != nil {
			return nil, err
		}
		added, lines = append(added, f), append(lines, line)
	}
	if len(added) == 0 {
		return nil, nil
	}
	out, err := insertEntries(data, list, lines)
	if err != nil {
		return nil, err
	}
	buf := bytes.NewBuffer(out)
	if _, err := Parse(path, buf.Bytes()); err != nil {
		return nil, fmt.Errorf("the configuration with these feeds would not be valid: %w", err)
	}
	if dryRun {
		return added, nil
	}
	if err := os.WriteFile(path+".bak", data, 0o600); err != nil {
		return nil, fmt.Errorf("back up %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.yaml")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if fi, err := os.Stat(path); err == nil {
		tmp.Chmod(fi.Mode().Perm())
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	tmp.Close()
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, err
	}
	return added, nil
}

// flowEntry is a feed as one line of YAML: {name: ..., url: ...}.
func flowEntry(f Feed) (string, error) {
	n := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
	pair := func(k string, v *yaml.Node) {
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, v)
	}
	str := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }
	pair("name", str(f.Name))
	pair("url", str(f.URL))
	if f.Language != "" {
		pair("language", str(f.Language))
	}
	if len(f.Tags) > 0 {
		tags := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, t := range f.Tags {
			tags.Content = append(tags.Content, str(t))
		}
		pair("tags", tags)
	}
	if f.SiteURL != "" {
		pair("site_url", str(f.SiteURL))
	}
	b, err := yaml.Marshal(n)
	return strings.TrimSpace(string(b)), err
}

// insertEntries puts "- ENTRY" lines after the feeds list's last line,
// indented as its items are, or adds a feeds list at the end.
func insertEntries(data []byte, list *yaml.Node, entries []string) ([]byte, error) {
	text := string(data)
	lines := strings.Split(text, "\n")
	if list == nil {
		var b strings.Builder
		b.WriteString(strings.TrimRight(text, "\n"))
		b.WriteString("\n\nfeeds:\n")
		for _, e := range entries {
			b.WriteString("  - " + e + "\n")
		}
		return []byte(b.String()), nil
	}
	if list.Kind != yaml.SequenceNode || list.Style == yaml.FlowStyle || len(list.Content) == 0 {
		return nil, fmt.Errorf("feeds: is not a list of entries one below the other (write it as \"feeds:\" and \"  - {name: ..., url: ...}\" lines)")
	}
	last := lastLine(list)
	first := list.Content[0]
	prefix := "  - "
	if l := lines[first.Line-1]; first.Column-1 <= len(l) {
		if p := l[:first.Column-1]; strings.TrimSpace(p) == "-" {
			prefix = p
		}
	}
	add := make([]string, len(entries))
	for i, e := range entries {
		add[i] = prefix + e
	}
	out := append(append(append([]string{}, lines[:last]...), add...), lines[last:]...)
	return []byte(strings.Join(out, "\n")), nil
}

// lastLine is the last line any part of n is on.
func lastLine(n *yaml.Node) int {
	last := n.Line
	for _, c := range n.Content {
		last = max(last, lastLine(c))
	}
	return last
}
