// Package storagetest holds a storage engine to the behaviour the
// storage.Store interface documents, so that every engine (BoltDB,
// PostgreSQL) answers the pipeline, the desk and the API alike.
//
// An engine's tests call Run with a function that opens a fresh, empty
// store (and arranges for it to be closed):
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Store { ... })
//	}
//
// The suite uses the public interface only. Its fixtures' times are whole
// microseconds, which every engine keeps, and times are compared with
// Equal, so that an engine may give them back in another location.
package storagetest

import (
	"testing"

	"github.com/raqib/raqib/storage"
)

// Run runs every behaviour as a subtest of t, each with a store of its
// own from open.
func Run(t *testing.T, open func(t *testing.T) storage.Store) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			if s == nil {
				t.Fatal("open gave no store")
			}
			c.run(t, s)
		})
	}
}

// cases are the behaviours, one subtest each.
var cases = []struct {
	name string
	run  func(t *testing.T, s storage.Store)
}{
	// Feeds.
	{"FeedRoundTrip", testFeedRoundTrip},
	{"FeedNotFound", testFeedNotFound},

	// Commit.
	{"CommitSeqAndSkips", testCommitSeqAndSkips},
	{"CommitFeedState", testCommitFeedState},
	{"LookupKeys", testLookupKeys},
	{"CommitAlerts", testCommitAlerts},
	{"CommitDevelopments", testCommitDevelopments},

	// Items.
	{"ItemRoundTrip", testItemRoundTrip},
	{"ItemNotFound", testItemNotFound},

	// Stories.
	{"Clusters", testClusters},
	{"ClustersListing", testClustersListing},
	{"LatestClusters", testLatestClusters},
	{"StoryItems", testStoryItems},
	{"SplitItem", testSplitItem},
	{"StoryRules", testStoryRules},
	{"FeedDays", testFeedDays},

	// Item listings.
	{"ItemsListing", testItemsListing},
	{"ItemsPaging", testItemsPaging},
	{"ItemsBadCursor", testItemsBadCursor},
	{"ItemsStopWithContext", testItemsStopWithContext},
	{"RuleStories", testRuleStories},
	{"RuleStoriesPaging", testRuleStoriesPaging},

	// Seeds and fingerprints.
	{"Seeds", testSeeds},
	{"Fingerprints", testFingerprints},
	{"RecentFingerprints", testRecentFingerprints},

	// Pruning.
	{"PruneKeepsKeysPendingAlertsAndSeeds", testPruneKeepsKeysPendingAlertsAndSeeds},
	{"PruneStoriesAndTheirAlerts", testPruneStoriesAndTheirAlerts},
	{"PruneListings", testPruneListings},

	// Alerts.
	{"AlertRoundTrip", testAlertRoundTrip},
	{"AlertStates", testAlertStates},
	{"ListAlerts", testListAlerts},
}
