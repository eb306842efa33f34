//go:build linux && arm64

package kvm

import (
	"fmt"

	"github.com/gicits/gicits/model"
)

// guardedMemory is guest RAM as callers see it: a closed backend's memory
// is unmapped, so every access checks first; and no access overlaps a
// Pending, which borrows the pending tables, or a SaveTables, which
// rewrites them and the ITS tables (memMu).
type guardedMemory struct{ b *backend }

func (m guardedMemory) ReadAt(p []byte, addr model.GPA) error {
	if err := m.b.lockOpen(); err != nil {
		return wrap(fmt.Errorf("guest memory: %w", err))
	}
	defer m.b.life.RUnlock()
	m.b.memMu.RLock()
	defer m.b.memMu.RUnlock()
	return m.b.mem.ReadAt(p, addr)
}

func (m guardedMemory) WriteAt(p []byte, addr model.GPA) error {
	if err := m.b.lockOpen(); err != nil {
		return wrap(fmt.Errorf("guest memory: %w", err))
	}
	defer m.b.life.RUnlock()
	m.b.memMu.RLock()
	defer m.b.memMu.RUnlock()
	return m.b.mem.WriteAt(p, addr)
}
