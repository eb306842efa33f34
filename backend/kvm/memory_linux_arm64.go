//go:build linux && arm64

package kvm

import (
	"fmt"

	"github.com/gicits/gicits/model"
)

// guardedMemory is guest RAM as callers see it: a closed backend's memory
// is unmapped, so every access checks first.
type guardedMemory struct{ b *backend }

func (m guardedMemory) ReadAt(p []byte, addr model.GPA) error {
	if err := m.b.lockOpen(); err != nil {
		return wrap(fmt.Errorf("guest memory: %w", err))
	}
	defer m.b.life.RUnlock()
	return m.b.mem.ReadAt(p, addr)
}

func (m guardedMemory) WriteAt(p []byte, addr model.GPA) error {
	if err := m.b.lockOpen(); err != nil {
		return wrap(fmt.Errorf("guest memory: %w", err))
	}
	defer m.b.life.RUnlock()
	return m.b.mem.WriteAt(p, addr)
}
