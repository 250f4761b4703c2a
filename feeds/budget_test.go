package feeds

import (
	"context"
	"testing"
	"time"
)

func TestParseBudget(t *testing.T) {
	b := newBudget(64)
	ctx := context.Background()
	if err := b.acquire(ctx, 40); err != nil {
		t.Fatal(err)
	}
	second := make(chan struct{})
	go func() {
		b.acquire(ctx, 40)
		close(second)
	}()
	select {
	case <-second:
		t.Fatal("two 40-byte parses ran at once within 64 bytes")
	case <-time.After(50 * time.Millisecond):
	}
	// Small ones still fit beside the first.
	if err := b.acquire(ctx, 20); err != nil {
		t.Fatal(err)
	}
	b.release(20)
	b.release(40)
	<-second
	// A body bigger than the whole budget goes when it is alone.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := b.acquire(cctx, 1000); err == nil {
		t.Fatal("a body bigger than the budget went beside another")
	}
	b.release(40)
	if err := b.acquire(ctx, 1000); err != nil {
		t.Fatal(err)
	}
	b.release(1000)
	if b.used != 0 {
		t.Errorf("%d bytes still taken", b.used)
	}
}
