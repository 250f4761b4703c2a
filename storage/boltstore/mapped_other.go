//go:build !linux

package boltstore

import bolt "go.etcd.io/bbolt"

// unmapScanned is a no-op where MADV_DONTNEED does not drop file pages
// from a process's resident set the way Linux does.
func unmapScanned(*bolt.DB, *bolt.Tx) {}
