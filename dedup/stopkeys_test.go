package dedup

import "testing"

// The similarity leaves function words out, from the first comparison
// on: the filter of their keys is built from the list of them.
func TestStopKeysHoldTheStopWords(t *testing.T) {
	for _, w := range []string{"في", "من", "قال", "the", "اليوم"} {
		if !isStopKey(wordHash(stem(w))) {
			t.Errorf("%s is not a stop key", w)
		}
	}
	if isStopKey(wordHash(stem("ملاطيه"))) {
		t.Error("a content word is a stop key")
	}
}
