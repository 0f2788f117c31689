// Command udpecho answers every UDP datagram on the port given with the same
// bytes, prefixed by "echo: ". The network tests run it (statically built,
// bind-mounted) in a container, as busybox has no UDP server.
package main

import (
	"log"
	"net"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: udpecho ADDR:PORT")
	}
	pc, err := net.ListenPacket("udp", os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			log.Fatal(err)
		}
		pc.WriteTo(append([]byte("echo: "), buf[:n]...), from)
	}
}
