#include <math.h>
#include <stdbool.h>
#include <stddef.h>

#include "scanner/cvss_v4.h"

/*
 * CVSS 4.0 base score (CVSS-B) as the FIRST CVSS v4.0 specification
 * defines it: the vector falls into a macrovector (six
 * equivalence classes EQ1..EQ6), the macrovector's score comes from the
 * FIRST lookup table, and the score is lowered by the mean of the
 * proportional severity distances to the next lower macrovector of each
 * EQ. The arithmetic runs in IEEE double in the order of the FIRST
 * reference calculator, so halves round the same way it rounds them.
 *
 * NOTE: threat (E), environmental (CR, IR, AR, M*) and supplemental
 * metrics are validated by the caller but not applied: E counts as
 * Attacked and CR/IR/AR as High, the defaults of a base score.
 */

/* Value positions of the base metrics, in cvss4_metrics order. */
enum {
	M_AV, M_AC, M_AT, M_PR, M_UI, M_VC, M_VI, M_VA, M_SC, M_SI, M_SA,
};

/* Positions inside "H L N" for the impact metrics. */
#define IMPACT_HIGH 0
#define IMPACT_NONE 2

/*
 * Macrovector scores in tenths, indexed by
 * eq1 * 108 + eq2 * 54 + eq3 * 18 + eq4 * 6 + eq5 * 2 + eq6; -1 marks the
 * 54 combinations that cannot occur (EQ3 = 2 with EQ6 = 0). Each row contains
 * one (eq1, eq2, eq3) triple and runs over eq4, eq5, eq6.
 * Source: the macrovector lookup table of the FIRST CVSS v4.0 calculator
 * (github.com/RedHatProductSecurity/cvss-v4-calculator, cvss_lookup.js).
 */
static const short macro_scores[324] = {
	/* 000 */ 100,  99,  98,  95,  95,  92, 100,  96,  93,  87,  91,  81,  93,  90,  89,  80,  81,  68,
	/* 001 */  98,  95,  95,  92,  90,  84,  93,  92,  89,  81,  81,  65,  88,  80,  78,  70,  69,  48,
	/* 002 */  -1,  92,  -1,  82,  -1,  72,  -1,  79,  -1,  69,  -1,  50,  -1,  69,  -1,  55,  -1,  27,
	/* 010 */  99,  97,  95,  92,  92,  85,  95,  91,  90,  83,  84,  71,  92,  81,  82,  71,  72,  53,
	/* 011 */  95,  93,  92,  85,  85,  73,  92,  82,  80,  72,  70,  59,  84,  70,  71,  52,  50,  30,
	/* 012 */  -1,  86,  -1,  75,  -1,  52,  -1,  71,  -1,  52,  -1,  29,  -1,  63,  -1,  29,  -1,  17,
	/* 100 */  98,  95,  94,  87,  91,  81,  94,  89,  86,  74,  77,  64,  87,  75,  74,  63,  63,  49,
	/* 101 */  94,  89,  88,  77,  76,  67,  86,  76,  74,  58,  59,  50,  72,  57,  57,  52,  52,  25,
	/* 102 */  -1,  83,  -1,  70,  -1,  54,  -1,  65,  -1,  58,  -1,  26,  -1,  53,  -1,  21,  -1,  13,
	/* 110 */  95,  90,  88,  76,  76,  70,  90,  77,  75,  62,  61,  53,  77,  66,  68,  59,  52,  30,
	/* 111 */  89,  78,  76,  67,  62,  58,  74,  59,  57,  57,  47,  23,  61,  52,  57,  29,  24,  16,
	/* 112 */  -1,  71,  -1,  59,  -1,  30,  -1,  58,  -1,  26,  -1,  15,  -1,  23,  -1,  13,  -1,   6,
	/* 200 */  93,  87,  86,  72,  75,  58,  86,  74,  74,  61,  56,  34,  70,  54,  52,  40,  40,  22,
	/* 201 */  85,  75,  74,  55,  62,  51,  72,  57,  55,  41,  46,  19,  53,  36,  34,  19,  19,   8,
	/* 202 */  -1,  64,  -1,  51,  -1,  20,  -1,  47,  -1,  21,  -1,  11,  -1,  24,  -1,   9,  -1,   4,
	/* 210 */  88,  75,  73,  53,  60,  50,  73,  55,  59,  40,  41,  20,  54,  43,  45,  22,  20,  11,
	/* 211 */  75,  55,  58,  45,  40,  21,  61,  51,  48,  18,  20,   9,  46,  18,  17,   7,   8,   2,
	/* 212 */  -1,  53,  -1,  24,  -1,  14,  -1,  24,  -1,  12,  -1,   5,  -1,  10,  -1,   3,  -1,   1,
};

/*
 * Severity distance levels, in the units of the specification (0.1 per
 * step). Lower is more severe. Impact levels for the subsequent system
 * start at 0.1 because 0.0 is reserved for Safety (MSI/MSA:S).
 */
static const double av_level[] = {0.0, 0.1, 0.2, 0.3};   /* N A L P */
static const double ac_level[] = {0.0, 0.1};             /* L H */
static const double at_level[] = {0.0, 0.1};             /* N P */
static const double pr_level[] = {0.0, 0.1, 0.2};        /* N L H */
static const double ui_level[] = {0.0, 0.1, 0.2};        /* N P A */
static const double vuln_level[] = {0.0, 0.1, 0.2};      /* H L N */
static const double sub_level[] = {0.1, 0.2, 0.3};       /* H L N */

/* A highest-severity vector of one EQ level; the metric values as levels. */
struct eq1_max { double av, pr, ui; };
struct eq2_max { double ac, at; };
struct eq36_max { double vc, vi, va, cr, ir, ar; };
struct eq4_max { double sc, si, sa; };

/*
 * The highest-severity vectors of each EQ level, from the same calculator
 * (max_composed.js). Levels: AV N0 A.1 L.2 P.3,
 * PR N0 L.1 H.2, UI N0 P.1 A.2, impact H0 L.1 N.2, requirement H0 M.1 L.2,
 * subsequent impact S0 H.1 L.2 N.3.
 */
static const struct eq1_max eq1_max0[] = {{0.0, 0.0, 0.0}};
static const struct eq1_max eq1_max1[] = {
	{0.1, 0.0, 0.0}, {0.0, 0.1, 0.0}, {0.0, 0.0, 0.1},
};
static const struct eq1_max eq1_max2[] = {{0.3, 0.0, 0.0}, {0.1, 0.1, 0.1}};
static const struct eq2_max eq2_max0[] = {{0.0, 0.0}};
static const struct eq2_max eq2_max1[] = {{0.1, 0.0}, {0.0, 0.1}};
static const struct eq36_max eq36_max00[] = {{0.0, 0.0, 0.0, 0.0, 0.0, 0.0}};
static const struct eq36_max eq36_max01[] = {
	{0.0, 0.0, 0.1, 0.1, 0.1, 0.0}, {0.0, 0.0, 0.0, 0.1, 0.1, 0.1},
};
static const struct eq36_max eq36_max10[] = {
	{0.1, 0.0, 0.0, 0.0, 0.0, 0.0}, {0.0, 0.1, 0.0, 0.0, 0.0, 0.0},
};
static const struct eq36_max eq36_max11[] = {
	{0.1, 0.0, 0.1, 0.0, 0.1, 0.0}, {0.1, 0.0, 0.0, 0.0, 0.1, 0.1},
	{0.0, 0.1, 0.0, 0.1, 0.0, 0.1}, {0.0, 0.1, 0.1, 0.1, 0.0, 0.0},
	{0.1, 0.1, 0.0, 0.0, 0.0, 0.1},
};
static const struct eq36_max eq36_max21[] = {{0.1, 0.1, 0.1, 0.0, 0.0, 0.0}};
static const struct eq4_max eq4_max[] = {
	{0.1, 0.0, 0.0}, {0.1, 0.1, 0.1}, {0.2, 0.2, 0.2},
};

/* Depth of each EQ level in severity steps (the "max severity" table). */
static const int eq1_depth[] = {1, 4, 5};
static const int eq2_depth[] = {1, 2};
static const int eq36_depth[3][2] = {{7, 6}, {8, 8}, {0, 10}};
static const int eq4_depth[] = {6, 5, 4};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct macrovector {
	int eq[6];
};

/* Returns the macrovector score in points, or NAN when it does not exist. */
static double
macro_score(int eq1, int eq2, int eq3, int eq4, int eq5, int eq6)
{
	int index;

	if (eq1 > 2 || eq2 > 1 || eq3 > 2 || eq4 > 2 || eq5 > 2 || eq6 > 1)
		return NAN;
	index = eq1 * 108 + eq2 * 54 + eq3 * 18 + eq4 * 6 + eq5 * 2 + eq6;
	if (macro_scores[index] < 0)
		return NAN;
	return macro_scores[index] / 10.0;
}

static void
macrovector_of(const int *v, struct macrovector *mv)
{
	bool av_n = v[M_AV] == 0, pr_n = v[M_PR] == 0, ui_n = v[M_UI] == 0;
	bool vc_h = v[M_VC] == IMPACT_HIGH, vi_h = v[M_VI] == IMPACT_HIGH;
	bool va_h = v[M_VA] == IMPACT_HIGH;

	if (av_n && pr_n && ui_n)
		mv->eq[0] = 0;
	else if ((av_n || pr_n || ui_n) && v[M_AV] != 3)
		mv->eq[0] = 1;
	else
		mv->eq[0] = 2;
	mv->eq[1] = (v[M_AC] == 0 && v[M_AT] == 0) ? 0 : 1;
	if (vc_h && vi_h)
		mv->eq[2] = 0;
	else if (vc_h || vi_h || va_h)
		mv->eq[2] = 1;
	else
		mv->eq[2] = 2;
	/* Without MSI/MSA:S, EQ4 level 0 is unreachable. */
	if (v[M_SC] == IMPACT_HIGH || v[M_SI] == IMPACT_HIGH ||
	    v[M_SA] == IMPACT_HIGH)
		mv->eq[3] = 1;
	else
		mv->eq[3] = 2;
	mv->eq[4] = 0;  /* E:X counts as E:A */
	/* CR, IR and AR default to High, so EQ6 is 0 when any of VC/VI/VA is. */
	mv->eq[5] = (vc_h || vi_h || va_h) ? 0 : 1;
}

/* Score of the next lower macrovector along EQ3/EQ6, which move together. */
static double
lower_eq36_score(const struct macrovector *m)
{
	const int *e = m->eq;

	if (e[2] == 0 && e[5] == 0) {
		double left = macro_score(e[0], e[1], 0, e[3], e[4], 1);
		double right = macro_score(e[0], e[1], 1, e[3], e[4], 0);

		return left > right ? left : right;
	}
	if (e[2] == 1 && e[5] == 0)
		return macro_score(e[0], e[1], 1, e[3], e[4], 1);
	if (e[5] == 1)
		return macro_score(e[0], e[1], e[2] + 1, e[3], e[4], 1);
	return NAN;
}

/* Severity distances of the vector from one highest-severity vector. */
struct distances {
	double av, pr, ui, ac, at, vc, vi, va, sc, si, sa, cr, ir, ar;
};

static bool
distances_valid(const struct distances *d)
{
	const double all[] = {d->av, d->pr, d->ui, d->ac, d->at, d->vc, d->vi,
	    d->va, d->sc, d->si, d->sa, d->cr, d->ir, d->ar};

	for (size_t i = 0; i < NELEM(all); i++)
		if (all[i] < 0)
			return false;
	return true;
}

/*
 * Finds the first combination of highest-severity vectors of the
 * vector's macrovector from which every metric of the vector is at equal
 * or lower severity, and stores the distances from it.
 */
static void
find_distances(const int *v, const struct macrovector *m, struct distances *d)
{
	static const struct { const struct eq1_max *p; size_t n; } e1[] = {
		{eq1_max0, NELEM(eq1_max0)}, {eq1_max1, NELEM(eq1_max1)},
		{eq1_max2, NELEM(eq1_max2)},
	};
	static const struct { const struct eq2_max *p; size_t n; } e2[] = {
		{eq2_max0, NELEM(eq2_max0)}, {eq2_max1, NELEM(eq2_max1)},
	};
	static const struct { const struct eq36_max *p; size_t n; } e36[3][2] = {
		{{eq36_max00, NELEM(eq36_max00)}, {eq36_max01, NELEM(eq36_max01)}},
		{{eq36_max10, NELEM(eq36_max10)}, {eq36_max11, NELEM(eq36_max11)}},
		{{NULL, 0}, {eq36_max21, NELEM(eq36_max21)}},
	};
	const struct eq4_max *m4 = &eq4_max[m->eq[3]];
	const double requirement = 0.0;  /* CR, IR, AR default to High */

	for (size_t i = 0; i < e1[m->eq[0]].n; i++) {
		const struct eq1_max *m1 = &e1[m->eq[0]].p[i];

		for (size_t j = 0; j < e2[m->eq[1]].n; j++) {
			const struct eq2_max *m2 = &e2[m->eq[1]].p[j];

			for (size_t k = 0; k < e36[m->eq[2]][m->eq[5]].n; k++) {
				const struct eq36_max *m3 =
				    &e36[m->eq[2]][m->eq[5]].p[k];

				d->av = av_level[v[M_AV]] - m1->av;
				d->pr = pr_level[v[M_PR]] - m1->pr;
				d->ui = ui_level[v[M_UI]] - m1->ui;
				d->ac = ac_level[v[M_AC]] - m2->ac;
				d->at = at_level[v[M_AT]] - m2->at;
				d->vc = vuln_level[v[M_VC]] - m3->vc;
				d->vi = vuln_level[v[M_VI]] - m3->vi;
				d->va = vuln_level[v[M_VA]] - m3->va;
				d->sc = sub_level[v[M_SC]] - m4->sc;
				d->si = sub_level[v[M_SI]] - m4->si;
				d->sa = sub_level[v[M_SA]] - m4->sa;
				d->cr = requirement - m3->cr;
				d->ir = requirement - m3->ir;
				d->ar = requirement - m3->ar;
				if (distances_valid(d))
					return;
			}
		}
	}
	/* No combination fits: the distances of the last one stay, as in
	 * the FIRST reference calculator. */
}

/*
 * Adds avail * (distance / depth) to *sum and counts it when the lower
 * macrovector exists (avail is not NaN).
 */
static void
add_proportion(double avail, double distance, double depth, double *sum,
    int *n)
{
	if (isnan(avail))
		return;
	*n += 1;
	*sum += avail * (distance / depth);
}

double
cvss4_base(const int *v)
{
	const double step = 0.1;
	struct macrovector m;
	struct distances d = {0};
	double value, sum = 0.0, lower_eq5;
	int n = 0;
	const int *e = m.eq;

	if (v[M_VC] == IMPACT_NONE && v[M_VI] == IMPACT_NONE &&
	    v[M_VA] == IMPACT_NONE && v[M_SC] == IMPACT_NONE &&
	    v[M_SI] == IMPACT_NONE && v[M_SA] == IMPACT_NONE)
		return 0.0;

	macrovector_of(v, &m);
	value = macro_score(e[0], e[1], e[2], e[3], e[4], e[5]);
	find_distances(v, &m, &d);

	add_proportion(value - macro_score(e[0] + 1, e[1], e[2], e[3], e[4],
	    e[5]), d.av + d.pr + d.ui, eq1_depth[e[0]] * step, &sum, &n);
	add_proportion(value - macro_score(e[0], e[1] + 1, e[2], e[3], e[4],
	    e[5]), d.ac + d.at, eq2_depth[e[1]] * step, &sum, &n);
	add_proportion(value - lower_eq36_score(&m),
	    d.vc + d.vi + d.va + d.cr + d.ir + d.ar,
	    eq36_depth[e[2]][e[5]] * step, &sum, &n);
	add_proportion(value - macro_score(e[0], e[1], e[2], e[3] + 1, e[4],
	    e[5]), d.sc + d.si + d.sa, eq4_depth[e[3]] * step, &sum, &n);
	/* EQ5 (exploit maturity) has no distance inside a macrovector: its
	 * proportion is 0, but an existing lower macrovector still counts. */
	lower_eq5 = macro_score(e[0], e[1], e[2], e[3], e[4] + 1, e[5]);
	add_proportion(value - lower_eq5, 0.0, 1.0, &sum, &n);

	if (n > 0)
		value -= sum / n;
	if (value < 0.0)
		value = 0.0;
	if (value > 10.0)
		value = 10.0;
	/* Round half up to one decimal, as the FIRST calculator does. */
	return floor(value * 10.0 + 0.5) / 10.0;
}
