//go:build linux && arm64

package kvm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gicits/gicits/backend/kvm/internal/kvmsys"
)

// vcpu is one vCPU and the OS thread that runs it. Every KVM_RUN and every
// vCPU ioctl after start happens on that thread (work); the backend's mu
// serialises requests.
type vcpu struct {
	id  int
	fd  *kvmsys.FD
	run *kvmsys.Mapping
	rb  []byte // struct kvm_run

	work     chan func()
	done     chan struct{}
	tid      atomic.Int64
	stopOnce sync.Once

	held     atomic.Bool // the guest is in its hold loop, inside KVM_RUN
	stopReq  atomic.Bool // a stop is under way: KVM_RUN's EINTR means stop
	freeDone chan error  // the free-running loop of a held vCPU returned
}

// requestTimeout bounds one request to the guest under nested emulation.
const requestTimeout = 20 * time.Second

var errStopped = errors.New("vCPU stopped")

func newVCPU(vm *kvmsys.FD, id, runSize int, init kvmsys.VCPUInit) (_ *vcpu, err error) {
	v := &vcpu{id: id, work: make(chan func()), done: make(chan struct{}), freeDone: make(chan error, 1)}
	if v.fd, err = kvmsys.CreateVCPU(vm, id); err != nil {
		return nil, err
	}
	if v.run, err = kvmsys.MapVCPU(v.fd, runSize); err != nil {
		v.fd.Close()
		return nil, err
	}
	v.rb = v.run.Bytes()
	if err = kvmsys.VCPUInitialize(v.fd, init); err != nil {
		v.run.Close()
		v.fd.Close()
		return nil, err
	}
	return v, nil
}

// start starts the vCPU's thread. The goroutine stays locked to its OS
// thread for its whole life, so the thread exits with it.
func (v *vcpu) start() {
	started := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		v.tid.Store(int64(kvmsys.Gettid()))
		close(started)
		defer close(v.done)
		for f := range v.work {
			f()
		}
	}()
	<-started
}

// exec runs f on the vCPU thread and waits for it; if f has not returned
// within requestTimeout the vCPU is kicked out of KVM_RUN.
func (v *vcpu) exec(f func() error) error {
	res := make(chan error, 1)
	select {
	case v.work <- func() { res <- f() }:
	case <-v.done:
		return errStopped
	}
	select {
	case err := <-res:
		return err
	case <-time.After(requestTimeout):
		v.kick(res)
		return fmt.Errorf("vCPU %d: the guest did not answer within %v", v.id, requestTimeout)
	}
}

// kick sets immediate_exit and signals the thread until done delivers.
func (v *vcpu) kick(done <-chan error) error {
	v.stopReq.Store(true)
	v.rb[kvmsys.RunImmediateExit] = 1
	defer func() {
		v.rb[kvmsys.RunImmediateExit] = 0
		v.stopReq.Store(false)
	}()
	for {
		if err := kvmsys.Kick(int(v.tid.Load())); err != nil {
			return err
		}
		select {
		case err := <-done:
			return err
		case <-time.After(2 * time.Millisecond):
		}
	}
}

type exitKind int

const (
	exitParked exitKind = iota // the guest reads its next request
	exitReply                  // the guest wrote a reply
)

// runToExit issues KVM_RUN until the guest accesses its mailbox. EINTR
// (Go's preemption signal) is retried unless a stop is under way.
func (v *vcpu) runToExit() (exitKind, uint64, error) {
	for {
		err := kvmsys.Run(v.fd)
		if errors.Is(err, kvmsys.EINTR) || errors.Is(err, kvmsys.EAGAIN) {
			if v.stopReq.Load() {
				return 0, 0, errStopped
			}
			continue
		}
		if err != nil {
			return 0, 0, err
		}
		reason := binary.LittleEndian.Uint32(v.rb[kvmsys.RunExitReason:])
		if reason == kvmsys.KVM_EXIT_INTR {
			if v.stopReq.Load() {
				return 0, 0, errStopped
			}
			continue
		}
		if reason != kvmsys.KVM_EXIT_MMIO {
			return 0, 0, fmt.Errorf("vCPU %d: unexpected exit reason %d", v.id, reason)
		}
		addr := binary.LittleEndian.Uint64(v.rb[kvmsys.RunMMIOPhysAddr:])
		isWrite := v.rb[kvmsys.RunMMIOIsWrite] != 0
		data := binary.LittleEndian.Uint64(v.rb[kvmsys.RunMMIOData:])
		switch {
		case addr == uint64(mailboxGPA) && !isWrite:
			return exitParked, 0, nil
		case addr == uint64(mailboxGPA)+8 && isWrite:
			return exitReply, data, nil
		}
		return 0, 0, fmt.Errorf("vCPU %d: unexpected MMIO %s at %#x (data %#x)", v.id, map[bool]string{true: "write", false: "read"}[isWrite], addr, data)
	}
}

// park runs the vCPU from wherever it is to its next request read.
func (v *vcpu) park() error {
	return v.exec(func() error {
		k, _, err := v.runToExit()
		if err == nil && k != exitParked {
			err = fmt.Errorf("vCPU %d: replied without a request", v.id)
		}
		return err
	})
}

// request hands the parked guest one request and returns its reply, with
// the vCPU parked again (or, for opHold, held in the guest).
func (v *vcpu) request(op guestOp, arg uint32) (uint64, error) {
	var reply uint64
	err := v.exec(func() error {
		binary.LittleEndian.PutUint64(v.rb[kvmsys.RunMMIOData:], guestRequest(op, arg))
		k, r, err := v.runToExit()
		if err != nil {
			return err
		}
		if k != exitReply {
			return fmt.Errorf("vCPU %d: asked for a reply, the guest read a request", v.id)
		}
		reply = r
		if op == opHold {
			return nil
		}
		k, _, err = v.runToExit()
		if err == nil && k != exitParked {
			err = fmt.Errorf("vCPU %d: the guest replied twice", v.id)
		}
		return err
	})
	if err == nil && op == opHold {
		v.held.Store(true)
		v.resume()
	}
	return reply, err
}

func (v *vcpu) isHeld() bool { return v.held.Load() }

// resume lets a held vCPU run freely in the guest again.
func (v *vcpu) resume() {
	go func() {
		select {
		case v.work <- func() {
			var err error
			for !v.stopReq.Load() {
				err = kvmsys.Run(v.fd)
				if err != nil && !errors.Is(err, kvmsys.EINTR) && !errors.Is(err, kvmsys.EAGAIN) {
					break
				}
				err = nil
			}
			v.freeDone <- err
		}:
		case <-v.done:
		}
	}()
}

// stop takes a held vCPU out of KVM_RUN: kvm_run.immediate_exit = 1 and
// SIGURG to its thread until KVM_RUN returns EINTR.
func (v *vcpu) stop() error {
	if err := v.kick(v.freeDone); err != nil {
		return fmt.Errorf("vCPU %d: stop: %w", v.id, err)
	}
	return nil
}

// release stops a held vCPU and sends it back to its request loop.
func (v *vcpu) release(loop uint64) error {
	if !v.held.Load() {
		return nil
	}
	if err := v.stop(); err != nil {
		return err
	}
	v.held.Store(false)
	err := v.exec(func() error {
		// A KVM_RUN with immediate_exit set completes an MMIO access the
		// guest left pending (the hold reply, if the vCPU was stopped
		// before it ever re-entered), which would otherwise advance the
		// PC set below, and returns EINTR without entering the guest.
		v.rb[kvmsys.RunImmediateExit] = 1
		err := kvmsys.Run(v.fd)
		v.rb[kvmsys.RunImmediateExit] = 0
		if err != nil && !errors.Is(err, kvmsys.EINTR) {
			return err
		}
		return kvmsys.SetOneReg(v.fd, kvmsys.CoreRegPC, loop)
	})
	if err != nil {
		return err
	}
	return v.park()
}

// shutdown stops the thread. A held vCPU is stopped first.
func (v *vcpu) shutdown() error {
	var err error
	v.stopOnce.Do(func() {
		if v.tid.Load() == 0 { // never started
			return
		}
		if v.held.Load() {
			err = v.stop()
		}
		close(v.work)
		<-v.done
	})
	return err
}
