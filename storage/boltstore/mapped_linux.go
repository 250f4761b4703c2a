package boltstore

import (
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// unmapScanned lets go of the file pages a transaction has read through
// BoltDB's memory map. Reading a page maps it into the process, and the
// kernel maps its cached neighbours with it (fault-around), so a scan over
// scattered pages (the index samples at start, keys looked up during a
// poll) leaves hundreds of MiB of the file counted in the daemon's resident
// memory. MADV_DONTNEED on this read-only shared mapping only removes the
// process's page-table entries: the pages stay in the kernel's page cache,
// which reclaims them when it needs to, and the next read maps them again.
//
// It must run inside a read transaction: BoltDB re-maps the file only once
// no read transaction is open, so the mapping's address and size (at least
// the transaction's file size) are stable here.
func unmapScanned(db *bolt.DB, tx *bolt.Tx) {
	syscall.Syscall(syscall.SYS_MADVISE, db.Info().Data, uintptr(tx.Size()), syscall.MADV_DONTNEED)
}
