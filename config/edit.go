package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// AddFeeds appends feeds to the configuration file's feeds list, skipping
// those whose URL is already there, and renaming those whose name is taken.
// The file is rewritten atomically (its comments kept) after a backup to
// FILE.bak, and the result is validated before it replaces the original.
func AddFeeds(path string, feeds []Feed) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		return 0, fmt.Errorf("%s is not valid YAML: %v", path, err)
	}
	root := doc.Content[0]
	list := nodeAt(root, "feeds")
	if list == nil {
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "feeds"}, &yaml.Node{Kind: yaml.SequenceNode})
		list = root.Content[len(root.Content)-1]
	}
	names, urls := map[string]bool{}, map[string]bool{}
	for _, n := range list.Content {
		var f Feed
		n.Decode(&f)
		names[f.Name], urls[f.URL] = true, true
	}
	added := 0
	for _, f := range feeds {
		if urls[f.URL] {
			continue
		}
		name := f.Name
		for i := 2; names[name]; i++ {
			name = fmt.Sprintf("%s-%d", f.Name, i)
		}
		names[name], urls[f.URL] = true, true
		n := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
		kv := [][2]string{{"name", name}, {"url", f.URL}}
		if f.Language != "" {
			kv = append(kv, [2]string{"language", f.Language})
		}
		for _, p := range kv {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: p[0]}, &yaml.Node{Kind: yaml.ScalarNode, Value: p[1]})
		}
		list.Content = append(list.Content, n)
		added++
	}
	if added == 0 {
		return 0, nil
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return 0, err
	}
	if _, err := Parse(path, buf.Bytes()); err != nil {
		return 0, fmt.Errorf("the configuration with these feeds would not be valid: %w", err)
	}
	if err := os.WriteFile(path+".bak", data, 0o600); err != nil {
		return 0, fmt.Errorf("back up %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.yaml")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	if fi, err := os.Stat(path); err == nil {
		tmp.Chmod(fi.Mode().Perm())
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return 0, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return 0, err
	}
	tmp.Close()
	if err := os.Rename(tmp.Name(), path); err != nil {
		return 0, err
	}
	return added, nil
}
