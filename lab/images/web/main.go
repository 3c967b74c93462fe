// SPDX-License-Identifier: GPL-3.0-or-later

// The lab's stand-in web backend: it answers every request with one line of
// JSON saying who answered and what arrived (host, path, body size and
// SHA-256), so tests can prove routing, TLS and large request bodies without
// the W&B application images.
//
//	web                 serve on :$PORT (default 8080)
//	web get URL         client mode: print URL's body, exit 1 on failure
//	                    (the image has no shell and no curl)
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

type answer struct {
	Backend string `json:"backend"`
	Method  string `json:"method"`
	Host    string `json:"host"`
	Path    string `json:"path"`
	Bytes   int64  `json:"bytes"`
	SHA256  string `json:"sha256"`
}

func serve() error {
	name, _ := os.Hostname()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		sum := sha256.New()
		n, err := io.Copy(sum, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(answer{
			Backend: name, Method: r.Method, Host: r.Host, Path: r.URL.Path,
			Bytes: n, SHA256: hex.EncodeToString(sum.Sum(nil)),
		})
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	return http.ListenAndServe(":"+port, nil)
}

func get(url string) error {
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(os.Stdout, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

func main() {
	var err error
	if len(os.Args) == 3 && os.Args[1] == "get" {
		err = get(os.Args[2])
	} else {
		err = serve()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
