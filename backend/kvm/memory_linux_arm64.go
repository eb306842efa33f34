//go:build linux && arm64

package kvm

import (
	"fmt"
	"sync"

	"github.com/gicits/gicits/model"
)

// guardedMemory is guest RAM as callers see it: a closed backend's memory
// is unmapped, so every access checks first.
type guardedMemory struct {
	life   *sync.RWMutex
	closed *bool
	ram    *model.RAM
}

func (m guardedMemory) ReadAt(p []byte, addr model.GPA) error {
	m.life.RLock()
	defer m.life.RUnlock()
	if *m.closed {
		return fmt.Errorf("backend/kvm: guest memory: %w", model.ErrClosed)
	}
	return m.ram.ReadAt(p, addr)
}

func (m guardedMemory) WriteAt(p []byte, addr model.GPA) error {
	m.life.RLock()
	defer m.life.RUnlock()
	if *m.closed {
		return fmt.Errorf("backend/kvm: guest memory: %w", model.ErrClosed)
	}
	return m.ram.WriteAt(p, addr)
}
