package main

import "io"

func runDemo(args []string, stdout, stderr io.Writer) int  { return 0 }
func runBench(args []string, stdout, stderr io.Writer) int { return 0 }
