// Package rfb is an embeddable RFB (VNC) server, and the RFB client the
// rest of Lifebuoy uses to talk to servers.
//
// A program hands the server a Framebuffer, writes its screen into it and
// says what changed; the server keeps every connected viewer up to date
// with only the changed areas, each at its own pace, in the pixel format
// and encoding the viewer asked for. Input and clipboard text come back
// through the callbacks in Options.
//
// The server speaks RFB 3.8, 3.7 and 3.3 with the security types None, VNC
// Authentication and VeNCrypt (X509None, X509Vnc, X509Plain over
// crypto/tls). ServeConn runs a whole connection; ServeAuthenticated takes
// over after a caller (such as the broker) did the version and security
// steps itself.
//
// A whole program that serves an image:
//
//	package main
//
//	import (
//		"context"
//		"image"
//		_ "image/png"
//		"log"
//		"net"
//		"os"
//
//		"lifebuoy/rfb"
//	)
//
//	func main() {
//		f, err := os.Open(os.Args[1])
//		if err != nil {
//			log.Fatal(err)
//		}
//		img, _, err := image.Decode(f)
//		if err != nil {
//			log.Fatal(err)
//		}
//		l, err := net.Listen("tcp", "127.0.0.1:5900")
//		if err != nil {
//			log.Fatal(err)
//		}
//		srv := rfb.NewServer(rfb.NewFramebufferFromImage(img), rfb.Options{Name: "picture"})
//		log.Fatal(srv.Serve(context.Background(), l))
//	}
package rfb
