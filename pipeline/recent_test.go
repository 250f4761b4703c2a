package pipeline

import (
	"fmt"
	"testing"

	"github.com/raqib/raqib/dedup"
)

// The recent fingerprints keep the last recentPrintsKept items, forget the
// oldest first, and forget everything on reset.
func TestRecentPrints(t *testing.T) {
	var r recentPrints
	fps := make([]*dedup.Fingerprint, recentPrintsKept+10)
	for i := range fps {
		fps[i] = &dedup.Fingerprint{Length: i}
		r.add(fmt.Sprint(i), fps[i])
	}
	r.add("20", &dedup.Fingerprint{Length: -1}) // kept already: not replaced
	for i := range fps {
		got := r.get(fmt.Sprint(i))
		if i < 10 && got != nil {
			t.Errorf("item %d, among the oldest, is still kept", i)
		}
		if i >= 10 && got != fps[i] {
			t.Errorf("item %d: got %v, want its fingerprint", i, got)
		}
	}
	if len(r.byID) != recentPrintsKept {
		t.Errorf("%d kept, want %d", len(r.byID), recentPrintsKept)
	}
	r.reset()
	if r.get(fmt.Sprint(len(fps)-1)) != nil {
		t.Error("kept after reset")
	}
	r.add("x", fps[0])
	if r.get("x") != fps[0] {
		t.Error("not kept after reset")
	}
}
