// Command lossstudy offers increasing rates to a router with one fast and
// one slow subscriber and records, for every rate, what was delivered and
// where the rest was dropped, as a CSV file and an SVG chart: the picture
// an operator needs to see where drops start and at which hop.
//
//	go run ./examples/lossstudy -rates 5000,20000,50000,100000,200000 -out /tmp/study
//
// With -noisy it studies noisy neighbours instead: one source offering
// several times a router's capacity beside 99 steady sources, with the
// router's ingress buffer fair and as a ring, side by side in noisy.csv
// and noisy.svg.
package main
