package main

import "io"

func runInspect(args []string, stdout, stderr io.Writer) int { return 0 }
func runDemo(args []string, stdout, stderr io.Writer) int    { return 0 }
func runBench(args []string, stdout, stderr io.Writer) int   { return 0 }
