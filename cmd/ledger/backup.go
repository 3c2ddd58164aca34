package main

import (
	"encoding/json"
	"fmt"

	"github.com/benefits-ledger/ledger/internal/ledger"
)

// runBackup asks the ledger to replace its read models' backup now (it also
// does so by itself every ten minutes while the log grows).
func runBackup(e *env, args []string) int {
	return runAdmin(e, args, "backup", func(raw []byte) (string, bool, error) {
		var r ledger.BackupReport
		if err := json.Unmarshal(raw, &r); err != nil {
			return "", false, err
		}
		return fmt.Sprintf("read models backed up at sequence %d: %d bytes in %d ms\n", r.Checkpoint, r.Bytes, r.Millis), true, nil
	})
}
