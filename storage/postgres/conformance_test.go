package postgres

import (
	"testing"

	"github.com/raqib/raqib/storage"
	"github.com/raqib/raqib/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return openTest(t) })
}
