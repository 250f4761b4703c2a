// Command pageload opens a page of a running raqib in headless Chromium a
// number of times and prints, for each load, the navigation timing the
// browser measured: time to the first byte, to the DOM ready and to the
// page loaded (styles included), and the bytes transferred.
//
//	go run ./bench/pageload -url http://127.0.0.1:8080/ -n 20
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os/exec"
	"slices"

	"github.com/chromedp/chromedp"
)

type timing struct {
	TTFB, DOM, Load, Bytes float64
}

func main() {
	url := flag.String("url", "http://127.0.0.1:8080/", "the page")
	n := flag.Int("n", 20, "loads")
	flag.Parse()
	path, err := exec.LookPath("chromium")
	if err != nil {
		log.Fatal("pageload needs chromium (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	var ts []timing
	for i := 0; i < *n; i++ {
		if err := chromedp.Do(ctx, chromedp.Navigate(*url), chromedp.WaitReady(chromedp.CSS("main"))); err != nil {
			log.Fatalf("load %s: %v", *url, err)
		}
		t, err := chromedp.Run(ctx, chromedp.Evaluate[timing](`(() => { const e = performance.getEntriesByType("navigation")[0];
			return {TTFB: e.responseStart - e.startTime, DOM: e.domContentLoadedEventEnd - e.startTime, Load: e.loadEventEnd - e.startTime, Bytes: e.encodedBodySize}; })()`, chromedp.EvalAwaitPromise))
		if err != nil {
			log.Fatal(err)
		}
		ts = append(ts, t)
		fmt.Printf("load %2d: first byte %6.1f ms, DOM ready %6.1f ms, loaded %6.1f ms, %6.0f bytes\n", i+1, t.TTFB, t.DOM, t.Load, t.Bytes)
	}
	med := func(f func(timing) float64) float64 {
		v := make([]float64, len(ts))
		for i, t := range ts {
			v[i] = f(t)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	fmt.Printf("median of %d: first byte %.1f ms, DOM ready %.1f ms, loaded %.1f ms, %.0f bytes\n", len(ts),
		med(func(t timing) float64 { return t.TTFB }), med(func(t timing) float64 { return t.DOM }), med(func(t timing) float64 { return t.Load }), med(func(t timing) float64 { return t.Bytes }))
}
