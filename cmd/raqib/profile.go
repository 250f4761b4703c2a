package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
)

// startProfiles writes the profiles that environment variables ask for, so
// that a whole process can be measured as an operator runs it (see
// docs/BENCHMARKS.md): RAQIB_CPUPROFILE, RAQIB_TRACE (go tool trace), and
// RAQIB_BLOCKPROFILE, RAQIB_MUTEXPROFILE and RAQIB_ALLOCPROFILE (what was
// allocated, and where), written at exit. The returned
// function stops and writes them.
func startProfiles() func() {
	var stops []func()
	open := func(env string) *os.File {
		path := os.Getenv(env)
		if path == "" {
			return nil
		}
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "raqib: %s: %v\n", env, err)
			return nil
		}
		return f
	}
	if f := open("RAQIB_CPUPROFILE"); f != nil {
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "raqib: RAQIB_CPUPROFILE: %v\n", err)
		} else {
			stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
		}
	}
	if f := open("RAQIB_TRACE"); f != nil {
		if err := trace.Start(f); err != nil {
			fmt.Fprintf(os.Stderr, "raqib: RAQIB_TRACE: %v\n", err)
		} else {
			stops = append(stops, func() { trace.Stop(); f.Close() })
		}
	}
	for _, p := range []struct {
		env, name string
		on        func()
	}{
		{"RAQIB_BLOCKPROFILE", "block", func() { runtime.SetBlockProfileRate(1) }},
		{"RAQIB_MUTEXPROFILE", "mutex", func() { runtime.SetMutexProfileFraction(1) }},
		{"RAQIB_ALLOCPROFILE", "allocs", func() {}},
	} {
		if os.Getenv(p.env) == "" {
			continue
		}
		p.on()
		stops = append(stops, func() {
			if f := open(p.env); f != nil {
				pprof.Lookup(p.name).WriteTo(f, 0)
				f.Close()
			}
		})
	}
	return func() {
		for _, stop := range stops {
			stop()
		}
	}
}
