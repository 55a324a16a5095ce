//go:build linux

package x11

import (
	"fmt"

	"github.com/jezek/xgb/shm"
	"golang.org/x/sys/unix"
)

// segment is a private SysV shared-memory segment attached by us and by
// the X server. It is created with mode 0600 (only our user, and the
// server acting for us, can attach it) and marked for removal as soon as
// both sides are attached, so the kernel frees it when the last of us
// detaches, even if this process crashes.
type segment struct {
	d    *Display
	id   int
	seg  shm.Seg
	data []byte
}

func newSegment(d *Display, size int) (s *segment, err error) {
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, size, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	if err != nil {
		return nil, fmt.Errorf("x11: shmget %d bytes: %w", size, err)
	}
	// Whatever happens below, the segment must not outlive us.
	defer func() {
		if _, rerr := unix.SysvShmCtl(id, unix.IPC_RMID, nil); rerr != nil && err == nil {
			err = fmt.Errorf("x11: shmctl IPC_RMID: %w", rerr)
		}
		if err != nil && s != nil {
			s.close()
			s = nil
		}
	}()
	data, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("x11: shmat: %w", err)
	}
	s = &segment{d: d, id: id, data: data}
	err = guard(func() error {
		seg, err := shm.NewSegId(d.conn)
		if err != nil {
			return err
		}
		if err := shm.AttachChecked(d.conn, seg, uint32(id), false).Check(); err != nil {
			return fmt.Errorf("x11: MIT-SHM attach: %w", err)
		}
		s.seg = seg
		return nil
	})
	return s, err
}

func (s *segment) close() {
	if s.seg != 0 {
		_ = guard(func() error { return shm.DetachChecked(s.d.conn, s.seg).Check() })
		s.seg = 0
	}
	if s.data != nil {
		_ = unix.SysvShmDetach(s.data)
		s.data = nil
	}
}
