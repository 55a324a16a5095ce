//go:build windows

package main

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	comdlg32                 = windows.NewLazySystemDLL("comdlg32.dll")
	procGetOpenFileNameW     = comdlg32.NewProc("GetOpenFileNameW")
	procCommDlgExtendedError = comdlg32.NewProc("CommDlgExtendedError")
)

// openFileNameW is OPENFILENAMEW (commdlg.h); Go's alignment gives the
// same layout on 64-bit Windows.
type openFileNameW struct {
	structSize    uint32
	owner         uintptr
	instance      uintptr
	filter        *uint16
	customFilter  *uint16
	maxCustFilter uint32
	filterIndex   uint32
	file          *uint16
	maxFile       uint32
	fileTitle     *uint16
	maxFileTitle  uint32
	initialDir    *uint16
	title         *uint16
	flags         uint32
	fileOffset    uint16
	fileExtension uint16
	defExt        *uint16
	custData      uintptr
	hook          uintptr
	templateName  *uint16
	reserved      uintptr
	reservedDW    uint32
	flagsEx       uint32
}

const (
	ofnAllowMultiSelect = 0x00000200
	ofnExplorer         = 0x00080000
	ofnFileMustExist    = 0x00001000
	ofnPathMustExist    = 0x00000800
	ofnNoChangeDir      = 0x00000008
)

// fileChooser is pickFiles: Windows always has its Open dialog.
func fileChooser() func(context.Context, string) ([]string, error) { return pickFiles }

// pickFiles asks the customer to choose files to send with Windows' own
// Open dialog (GetOpenFileNameW, several files allowed). It returns the
// chosen paths; none if the customer cancelled. The dialog is modal on
// its own OS thread; ctx cannot close it, only stop waiting for it.
func pickFiles(ctx context.Context, title string) ([]string, error) {
	type result struct {
		paths []string
		err   error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		buf := make([]uint16, 64<<10)
		t, _ := windows.UTF16PtrFromString(title)
		ofn := openFileNameW{file: &buf[0], maxFile: uint32(len(buf)), title: t,
			flags: ofnAllowMultiSelect | ofnExplorer | ofnFileMustExist | ofnPathMustExist | ofnNoChangeDir}
		ofn.structSize = uint32(unsafe.Sizeof(ofn))
		if r, _, _ := procGetOpenFileNameW.Call(uintptr(unsafe.Pointer(&ofn))); r == 0 {
			if code, _, _ := procCommDlgExtendedError.Call(); code != 0 {
				done <- result{err: fmt.Errorf("the Open dialog failed (CommDlgExtendedError %#x)", code)}
				return
			}
			done <- result{} // cancelled
			return
		}
		done <- result{paths: splitMultiSelect(buf)}
	}()
	select {
	case r := <-done:
		return r.paths, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// splitMultiSelect reads the Open dialog's answer: "C:\dir\file\0\0" for
// one file, "C:\dir\0a.txt\0b.txt\0\0" for several.
func splitMultiSelect(buf []uint16) []string {
	var parts []string
	for start, i := 0, 0; i < len(buf); i++ {
		if buf[i] != 0 {
			continue
		}
		if i == start {
			break
		}
		parts = append(parts, windows.UTF16ToString(buf[start:i]))
		start = i + 1
	}
	if len(parts) <= 1 {
		return parts
	}
	var paths []string
	for _, name := range parts[1:] {
		paths = append(paths, filepath.Join(parts[0], name))
	}
	return paths
}
