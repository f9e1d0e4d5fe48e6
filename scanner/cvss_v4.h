#ifndef PORTCULLIS_SCANNER_CVSS_V4_H
#define PORTCULLIS_SCANNER_CVSS_V4_H

/*
 * Internal to scanner/cvss.c: the CVSS 4.0 base score of a validated
 * vector. values[i] is the position of metric i's value in the value list
 * of the CVSS 4.0 metric table in cvss.c (AV "N A L P", AC "L H", AT "N P",
 * PR "N L H", UI "N P A", VC..SA "H L N"); only the eleven base metrics
 * are read.
 */
double cvss4_base(const int *values);

#endif
