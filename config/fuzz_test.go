package config

import (
	"errors"
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("feeds: [{name: a, url: 'http://x/'}]"))
	f.Add([]byte("poll: {schedule: '@every 5m', timeout: 3d}\nstorage: {path: x.db}"))
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("- 1\n- 2"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("/etc/raqib/config.yaml", data)
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error is not config.Errors: %v", err)
			}
			for _, e := range es {
				if e.File != "/etc/raqib/config.yaml" || e.Field == "" {
					t.Fatalf("error without file or field: %+v", e)
				}
			}
			return
		}
		if cfg.Poll.Workers < 0 || cfg.Poll.Connections < 1 || cfg.Storage.Path == "" {
			t.Fatalf("invalid config accepted: %+v", cfg)
		}
	})
}
