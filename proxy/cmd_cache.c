/*
 * portcullis cache import|export: seeds the caches of an offline proxy
 * from an OCI layout or a docker-archive file, and writes a cached image
 * back out as an OCI layout.
 *
 * Both open the blob store and the manifest cache of the cache folder,
 * which take exclusive locks, so they run while `portcullis serve` on
 * that folder is stopped.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cache/blobstore.h"
#include "cache/manifest_cache.h"
#include "common/alloc.h"
#include "common/digest.h"
#include "common/error.h"
#include "common/log.h"
#include "policy/policy.h"
#include "proxy/cache_import.h"
#include "proxy/commands.h"
#include "proxy/config.h"
#include "proxy/route.h"
#include "scanner/vulndb.h"

#define CACHE_EXIT_OK 0
#define CACHE_EXIT_ERROR 2

/* The upstream name tags are stored under when nothing else names one. */
#define CACHE_DEFAULT_UPSTREAM "docker.io"

/* Bytes copied per step when a blob is exported. */
#define EXPORT_COPY_CHUNK (256U * 1024U)

#define OCI_REF_NAME "org.opencontainers.image.ref.name"

struct cache_args {
	const char *config_file;
	const char *cache_dir;
	const char *upstream;
	const char *as;
	const char *policy;
	const char *db;
	const char *platform;
	const char *positional[2];
	int n_positional;
};

/* The cache folder, upstream and open caches of one command. */
struct cache_target {
	struct config cfg;
	const char *cache_dir;
	const char *upstream;
	bool docker_hub;
	struct blobstore *bs;
	struct manifest_cache *mc;
};

static void
cache_usage(FILE *out)
{
	fprintf(out,
	    "usage: portcullis cache import [flags] [--as NAME[:TAG]] SOURCE\n"
	    "       portcullis cache export [flags] NAME[:TAG]|NAME@DIGEST DIR\n\n"
	    "import copies an image into the cache folder, verifying every "
	    "digest,\n"
	    "tags it, scans it and writes its report to "
	    "DIR/verdicts/<digest>.json.\n"
	    "SOURCE is oci:DIR[:TAG] (an OCI layout) or docker-archive:FILE.\n"
	    "export writes a cached image to DIR as an OCI layout.\n\n"
	    "  -c, --config FILE     portcullis.yaml: its cache folder, size limit,\n"
	    "                        first upstream, policy and database are the\n"
	    "                        defaults of the flags below\n"
	    "  --cache-dir DIR       cache folder (default /var/cache/portcullis)\n"
	    "  --upstream NAME       upstream name the tag belongs to (default: the\n"
	    "                        first upstream of -c FILE, else docker.io)\n"
	    "  --as NAME[:TAG]       name and tag to store (import; default: the\n"
	    "                        source's, tag latest)\n"
	    "  --policy FILE         evaluate this policy (import)\n"
	    "  --db PATH             vulnerability database (import)\n"
	    "  --platform OS/ARCH    image to take from an index (import)\n\n"
	    "Stop `portcullis serve` on the cache folder first: the caches are\n"
	    "locked while a server has them open.\n");
}

static int
parse_args(int argc, char **argv, struct cache_args *a)
{
	enum { OPT_CACHE = 256, OPT_UPSTREAM, OPT_AS, OPT_POLICY, OPT_DB,
	    OPT_PLATFORM };
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"cache-dir", required_argument, NULL, OPT_CACHE},
		{"upstream", required_argument, NULL, OPT_UPSTREAM},
		{"as", required_argument, NULL, OPT_AS},
		{"policy", required_argument, NULL, OPT_POLICY},
		{"db", required_argument, NULL, OPT_DB},
		{"platform", required_argument, NULL, OPT_PLATFORM},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
		switch (c) {
		case 'c': a->config_file = optarg; break;
		case OPT_CACHE: a->cache_dir = optarg; break;
		case OPT_UPSTREAM: a->upstream = optarg; break;
		case OPT_AS: a->as = optarg; break;
		case OPT_POLICY: a->policy = optarg; break;
		case OPT_DB: a->db = optarg; break;
		case OPT_PLATFORM: a->platform = optarg; break;
		case 'h':
			cache_usage(stdout);
			return 1;
		default:
			cache_usage(stderr);
			return -1;
		}
	}
	for (; optind < argc; optind++) {
		if (a->n_positional >= 2) {
			fprintf(stderr, "portcullis cache: unexpected argument '%s'\n",
			    argv[optind]);
			return -1;
		}
		a->positional[a->n_positional++] = argv[optind];
	}
	return 0;
}

/*
 * Picks the upstream name: --upstream, else the first upstream of the
 * configuration file, else docker.io. A configured upstream keeps its
 * Docker Hub setting; any other name is Docker Hub when it is one of the
 * Hub's host names.
 */
static void
choose_upstream(struct cache_target *t, const char *flag)
{
	const struct config *cfg = &t->cfg;

	t->upstream = flag != NULL ? flag : cfg->n_upstreams > 0 ?
	    cfg->upstreams[0].name : CACHE_DEFAULT_UPSTREAM;
	t->docker_hub = route_is_docker_hub_host(t->upstream);
	for (size_t i = 0; i < cfg->n_upstreams; i++) {
		const struct config_upstream *cu = &cfg->upstreams[i];
		char host[256] = "";

		if (strcmp(cu->name, t->upstream) != 0)
			continue;
		config_url_host(cu->url, host, sizeof(host));
		t->docker_hub = cu->docker_hub || route_is_docker_hub_host(host) ||
		    route_is_docker_hub_host(cu->name);
	}
}

/* Loads the configuration, picks the folder and upstream, opens the caches. */
static int
target_open(struct cache_target *t, const struct cache_args *a)
{
	int problems = 0;
	int err;

	memset(t, 0, sizeof(*t));
	if (config_init(&t->cfg) != PC_OK)
		return PC_ERR_NOMEM;
	if (a->config_file != NULL &&
	    config_load_file(&t->cfg, a->config_file, stderr, &problems) != PC_OK) {
		fprintf(stderr, "portcullis cache: %d problem(s) in %s\n", problems,
		    a->config_file);
		return PC_ERR_INVALID;
	}
	t->cache_dir = a->cache_dir != NULL ? a->cache_dir : t->cfg.cache_dir;
	choose_upstream(t, a->upstream);
	if (!upstream_name_is_valid(t->upstream)) {
		fprintf(stderr, "portcullis cache: invalid upstream name '%s'\n",
		    t->upstream);
		return PC_ERR_INVALID;
	}

	err = blobstore_open(t->cache_dir, t->cfg.cache_max_bytes, &t->bs);
	if (err == PC_OK)
		err = manifest_cache_open(t->cache_dir, &t->mc);
	if (err == PC_ERR_AGAIN)
		fprintf(stderr, "portcullis cache: the cache in %s is locked by a "
		    "running portcullis serve: stop it, run this command, then start "
		    "it again (or import into another folder and serve that one)\n",
		    t->cache_dir);
	else if (err != PC_OK)
		fprintf(stderr, "portcullis cache: cannot open the cache in %s: %s\n",
		    t->cache_dir, pc_strerror(err));
	return err;
}

static void
target_close(struct cache_target *t)
{
	if (t->mc != NULL)
		manifest_cache_close(t->mc);
	if (t->bs != NULL)
		blobstore_close(t->bs);
	config_free(&t->cfg);
}

/* ---- import ---- */

static int
load_policy_and_db(const char *policy_path, const char *db_path,
    struct policy **policy, struct vulndb **db)
{
	char reason[1024];
	int err;

	if (policy_path != NULL) {
		err = policy_load(policy_path, policy, reason, sizeof(reason));
		if (err != PC_OK) {
			fprintf(stderr, "portcullis cache: %s\n", reason);
			return err;
		}
	}
	if (db_path != NULL) {
		err = vulndb_open(db_path, db, reason, sizeof(reason));
		if (err != PC_OK) {
			fprintf(stderr, "portcullis cache: cannot open the vulnerability "
			    "database %s: %s\n", db_path, reason);
			return err;
		}
	}
	return PC_OK;
}

static void
print_import_summary(const struct cache_target *t,
    const struct cache_import_result *r)
{
	const json_t *os = json_object_get(r->report, "os");
	const char *family = json_string_value(json_object_get(os, "family"));
	const char *version = json_string_value(json_object_get(os, "version"));
	const char *decision = json_string_value(json_object_get(r->verdict,
	    "decision"));

	printf("imported %s/%s:%s\n", t->upstream, r->repository, r->tag);
	printf("  manifest  %s (%s)\n", r->digest, r->media_type);
	printf("  blobs     %zu copied (%.1f MB), %zu already cached; %zu layer(s)\n",
	    r->blobs_copied, (double)r->bytes_copied / 1e6, r->blobs_present,
	    r->layers);
	printf("  tag       stored for %zu client accept class(es)\n",
	    r->tag_classes);
	printf("  scan      %s %s: %zu packages, %zu vulnerabilities%s, %zu secrets\n",
	    family != NULL ? family : "unknown OS", version != NULL ? version : "",
	    json_array_size(json_object_get(r->report, "packages")),
	    json_array_size(json_object_get(r->report, "vulnerabilities")),
	    json_is_null(json_object_get(r->report, "db_version")) ?
	    " (no database)" : "",
	    json_array_size(json_object_get(r->report, "secrets")));
	if (r->verdict != NULL)
		printf("  verdict   %s: %s\n", decision != NULL ? decision : "-",
		    json_string_value(json_object_get(r->verdict, "summary")) ?: "");
	else
		printf("  verdict   not evaluated: no policy given\n");
	printf("  report    %s\n", r->verdict_path);
}

static int
cache_import(const struct cache_args *a)
{
	struct cache_target t;
	struct cache_import_options o;
	struct cache_import_result r;
	struct policy *policy = NULL;
	struct vulndb *db = NULL;
	char verdict_dir[4096];
	char reason[1024];
	int status = CACHE_EXIT_ERROR;
	int err;

	memset(&r, 0, sizeof(r));
	if (a->n_positional != 1) {
		fprintf(stderr, "portcullis cache import: expected one SOURCE "
		    "argument\n\n");
		cache_usage(stderr);
		return CACHE_EXIT_ERROR;
	}
	if (target_open(&t, a) != PC_OK)
		goto out;
	if (load_policy_and_db(a->policy != NULL ? a->policy : t.cfg.policy_file,
	    a->db != NULL ? a->db : t.cfg.db_path, &policy, &db) != PC_OK)
		goto out;
	snprintf(verdict_dir, sizeof(verdict_dir), "%s/verdicts", t.cache_dir);

	memset(&o, 0, sizeof(o));
	o.source = a->positional[0];
	o.upstream = t.upstream;
	o.docker_hub = t.docker_hub;
	o.as = a->as;
	o.platform = a->platform;
	o.verdict_dir = verdict_dir;
	o.policy = policy;
	o.db = db;
	err = cache_import_run(t.bs, t.mc, &o, &r, reason, sizeof(reason));
	if (err != PC_OK) {
		fprintf(stderr, "portcullis cache import: %s: %s\n", o.source, reason);
		goto out;
	}
	print_import_summary(&t, &r);
	status = CACHE_EXIT_OK;
out:
	json_decref(r.report);
	json_decref(r.verdict);
	if (db != NULL)
		vulndb_close(db);
	if (policy != NULL)
		policy_free(policy);
	target_close(&t);
	return status;
}

/* ---- export ---- */

/* An export in progress into an OCI layout folder. */
struct export {
	struct cache_target *t;
	const char *dir;
	size_t blobs;
	uint64_t bytes;
};

/* Writes data to path through a temporary file and rename(2). */
static int
write_file_atomic(const char *path, const void *data, size_t len)
{
	char tmp[4096];
	int fd;
	int err = PC_OK;

	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		fprintf(stderr, "portcullis cache export: cannot create %s: %s\n",
		    tmp, strerror(errno));
		return PC_ERR_IO;
	}
	if (write(fd, data, len) != (ssize_t)len || fchmod(fd, 0644) != 0 ||
	    fsync(fd) != 0 || rename(tmp, path) != 0) {
		fprintf(stderr, "portcullis cache export: writing %s failed: %s\n",
		    path, strerror(errno));
		unlink(tmp);
		err = PC_ERR_IO;
	}
	close(fd);
	return err;
}

static void
blob_file_path(const struct export *ex, const char *digest, char *out,
    size_t outlen)
{
	snprintf(out, outlen, "%s/blobs/sha256/%s", ex->dir, digest + 7);
}

/*
 * Copies a stored blob into the layout, hashing it on the way so the file
 * is renamed into place only when it still matches its digest.
 */
static int
copy_blob_out(struct export *ex, int in, const char *digest, int out)
{
	unsigned char *chunk = pc_malloc(EXPORT_COPY_CHUNK);
	struct sha256_stream *h = NULL;
	char got[DIGEST_SHA256_BUFSIZE];
	off_t off = 0;
	ssize_t n;
	int err = chunk != NULL ? sha256_stream_new(&h) : PC_ERR_NOMEM;

	while (err == PC_OK && (n = pread(in, chunk, EXPORT_COPY_CHUNK, off)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || write(out, chunk, (size_t)n) != n) {
			fprintf(stderr, "portcullis cache export: copying %s failed: %s\n",
			    digest, strerror(errno));
			err = PC_ERR_IO;
			break;
		}
		off += n;
		err = sha256_stream_update(h, chunk, (size_t)n);
	}
	if (err == PC_OK)
		err = sha256_stream_final(h, got);
	if (err == PC_OK && strcmp(got, digest) != 0) {
		fprintf(stderr, "portcullis cache export: the cached blob %s is "
		    "damaged (its content hashes to %s)\n", digest, got);
		err = PC_ERR_MISMATCH;
	}
	ex->bytes += (uint64_t)off;
	sha256_stream_free(h);
	pc_free(chunk);
	return err;
}

/* Writes the stored blob digest to blobs/sha256/<hex> unless present. */
static int
export_blob(struct export *ex, const char *digest)
{
	struct blob_ref *ref = NULL;
	char path[4096];
	char tmp[4096 + 8];
	struct stat st;
	int out;
	int err;

	err = blobstore_get(ex->t->bs, digest, &ref);
	if (err != PC_OK) {
		fprintf(stderr, "portcullis cache export: blob %s is not in the "
		    "cache (%s): import the image again\n", digest, pc_strerror(err));
		return err;
	}
	blob_file_path(ex, digest, path, sizeof(path));
	if (stat(path, &st) == 0 && (uint64_t)st.st_size == blob_ref_size(ref)) {
		blob_ref_release(ref);
		return PC_OK;
	}
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	out = mkstemp(tmp);
	if (out < 0) {
		fprintf(stderr, "portcullis cache export: cannot create %s: %s\n", tmp,
		    strerror(errno));
		blob_ref_release(ref);
		return PC_ERR_IO;
	}
	err = copy_blob_out(ex, blob_ref_fd(ref), digest, out);
	if (err == PC_OK && (fchmod(out, 0644) != 0 || fsync(out) != 0 ||
	    rename(tmp, path) != 0)) {
		fprintf(stderr, "portcullis cache export: writing %s failed: %s\n",
		    path, strerror(errno));
		err = PC_ERR_IO;
	}
	if (err != PC_OK)
		unlink(tmp);
	else
		ex->blobs++;
	close(out);
	blob_ref_release(ref);
	return err;
}

/* The digest of a descriptor, or NULL when it names no sha256 digest. */
static const char *
descriptor_digest(const json_t *desc)
{
	const char *d = json_string_value(json_object_get(desc, "digest"));

	return d != NULL && digest_is_sha256(d) ? d : NULL;
}

static int export_manifest(struct export *ex, const char *digest,
    unsigned depth, char **media_type, size_t *size);

/* Writes the config and layers of an image manifest. */
static int
export_image_blobs(struct export *ex, const json_t *doc)
{
	const json_t *layers = json_object_get(doc, "layers");
	const char *config = descriptor_digest(json_object_get(doc, "config"));
	size_t i;
	json_t *l;
	int err;

	if (config == NULL || !json_is_array(layers)) {
		fprintf(stderr, "portcullis cache export: a cached manifest has no "
		    "sha256 config or no layers array\n");
		return PC_ERR_INVALID;
	}
	err = export_blob(ex, config);
	json_array_foreach(layers, i, l) {
		const char *d = descriptor_digest(l);

		if (err != PC_OK)
			break;
		if (d == NULL) {
			fprintf(stderr, "portcullis cache export: layer %zu has no sha256 "
			    "digest\n", i + 1);
			return PC_ERR_INVALID;
		}
		err = export_blob(ex, d);
	}
	return err;
}

/*
 * Writes the platform manifests of an index that the cache contains, and
 * their blobs. Manifests never pulled through or imported are left out
 * and listed.
 */
static int
export_index_children(struct export *ex, const json_t *doc, unsigned depth)
{
	const json_t *manifests = json_object_get(doc, "manifests");
	size_t i;
	size_t written = 0;
	json_t *m;

	json_array_foreach(manifests, i, m) {
		const char *d = descriptor_digest(m);
		char *mt = NULL;
		size_t size;
		int err;

		if (d == NULL)
			continue;
		err = export_manifest(ex, d, depth + 1, &mt, &size);
		pc_free(mt);
		if (err == PC_ERR_NOTFOUND) {
			fprintf(stderr, "portcullis cache export: note: manifest %s of the "
			    "index is not cached and is left out\n", d);
			continue;
		}
		if (err != PC_OK)
			return err;
		written++;
	}
	if (written == 0) {
		fprintf(stderr, "portcullis cache export: the cache contains none of the "
		    "manifests of the index\n");
		return PC_ERR_NOTFOUND;
	}
	return PC_OK;
}

/*
 * Writes the cached manifest digest and everything it references. Returns
 * PC_ERR_NOTFOUND, without a message, when the manifest is not cached.
 */
static int
export_manifest(struct export *ex, const char *digest, unsigned depth,
    char **media_type, size_t *size)
{
	char path[4096];
	char *data = NULL;
	json_t *doc;
	int err;

	err = manifest_cache_get(ex->t->mc, digest, media_type, &data, size);
	if (err != PC_OK)
		return err;
	doc = json_loadb(data, *size, 0, NULL);
	if (doc == NULL) {
		fprintf(stderr, "portcullis cache export: cached manifest %s is not "
		    "valid JSON\n", digest);
		err = PC_ERR_INVALID;
	} else if (json_is_array(json_object_get(doc, "manifests"))) {
		err = depth >= 2 ? PC_ERR_LIMIT : export_index_children(ex, doc,
		    depth);
		if (err == PC_ERR_LIMIT)
			fprintf(stderr, "portcullis cache export: image indexes nested "
			    "deeper than 2\n");
	} else {
		err = export_image_blobs(ex, doc);
	}
	json_decref(doc);
	if (err == PC_OK) {
		blob_file_path(ex, digest, path, sizeof(path));
		err = write_file_atomic(path, data, *size);
	}
	pc_free(data);
	return err;
}

/*
 * Adds the manifest to DIR/index.json, replacing an entry of the same tag,
 * and writes DIR/oci-layout.
 */
static int
write_layout_index(struct export *ex, const char *digest,
    const char *media_type, size_t size, const char *tag)
{
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	char path[4096];
	json_t *index;
	json_t *manifests;
	json_t *desc;
	char *text;
	int err;

	snprintf(path, sizeof(path), "%s/index.json", ex->dir);
	index = json_load_file(path, 0, NULL);
	if (index == NULL && access(path, F_OK) == 0) {
		fprintf(stderr, "portcullis cache export: %s exists but is not valid "
		    "JSON: choose an empty folder\n", path);
		return PC_ERR_INVALID;
	}
	if (index == NULL)
		index = json_pack("{s:i, s:[]}", "schemaVersion", 2, "manifests");
	manifests = json_object_get(index, "manifests");
	if (!json_is_array(manifests)) {
		json_decref(index);
		fprintf(stderr, "portcullis cache export: %s has no manifests array\n",
		    path);
		return PC_ERR_INVALID;
	}
	for (size_t i = json_array_size(manifests); tag != NULL && i > 0; i--) {
		const char *name = json_string_value(json_object_get(json_object_get(
		    json_array_get(manifests, i - 1), "annotations"), OCI_REF_NAME));

		if (name != NULL && strcmp(name, tag) == 0)
			json_array_remove(manifests, i - 1);
	}
	desc = json_pack("{s:s, s:s, s:I}", "mediaType", media_type, "digest",
	    digest, "size", (json_int_t)size);
	if (desc != NULL && tag != NULL)
		json_object_set_new(desc, "annotations", json_pack("{s:s}",
		    OCI_REF_NAME, tag));
	if (desc == NULL || json_array_append_new(manifests, desc) != 0) {
		json_decref(index);
		return PC_ERR_NOMEM;
	}
	text = json_dumps(index, JSON_COMPACT);
	json_decref(index);
	if (text == NULL)
		return PC_ERR_NOMEM;
	err = write_file_atomic(path, text, strlen(text));
	pc_free(text);
	snprintf(path, sizeof(path), "%s/oci-layout", ex->dir);
	if (err == PC_OK)
		err = write_file_atomic(path, layout, sizeof(layout) - 1);
	return err;
}

/* Finds the digest of repository:tag in the tag cache under any class. */
static int
resolve_tag(const struct cache_target *t, const char *repository,
    const char *tag, char digest[DIGEST_SHA256_BUFSIZE])
{
	unsigned classes[CACHE_IMPORT_MAX_CLASSES];
	size_t n = cache_import_accept_classes(classes);
	struct tag_entry e;

	for (size_t i = 0; i < n; i++) {
		if (tag_cache_get(t->mc, t->upstream, repository, tag, classes[i],
		    &e) == PC_OK && digest_is_sha256(e.digest)) {
			snprintf(digest, DIGEST_SHA256_BUFSIZE, "%s", e.digest);
			return PC_OK;
		}
	}
	return PC_ERR_NOTFOUND;
}

static int
make_layout_dirs(const char *dir)
{
	char path[4096];
	const char *parts[] = {"", "/blobs", "/blobs/sha256"};

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dir, parts[i]);
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			fprintf(stderr, "portcullis cache export: cannot create %s: %s\n",
			    path, strerror(errno));
			return PC_ERR_IO;
		}
	}
	return PC_OK;
}

/* Splits NAME[:TAG] or NAME@DIGEST and finds the manifest digest. */
static int
resolve_reference(const struct cache_target *t, const char *ref,
    char repository[REPO_NAME_MAX_LEN + 1], char tag[TAG_MAX_LEN + 1],
    char digest[DIGEST_SHA256_BUFSIZE])
{
	const char *at = strchr(ref, '@');
	char name[REPO_NAME_MAX_LEN + 1];
	char reason[512];
	int err;

	if (at != NULL) {
		if ((size_t)(at - ref) > REPO_NAME_MAX_LEN || !digest_is_sha256(at + 1)) {
			fprintf(stderr, "portcullis cache export: invalid reference '%s': "
			    "expected NAME@sha256:<64 hex>\n", ref);
			return PC_ERR_INVALID;
		}
		memcpy(name, ref, (size_t)(at - ref));
		name[at - ref] = '\0';
		snprintf(digest, DIGEST_SHA256_BUFSIZE, "%s", at + 1);
		ref = name;
	}
	err = cache_import_split_name(ref, t->docker_hub, at != NULL ? NULL :
	    "latest", repository, tag, reason, sizeof(reason));
	if (err != PC_OK) {
		fprintf(stderr, "portcullis cache export: %s\n", reason);
		return err;
	}
	if (at != NULL)
		return PC_OK;
	err = resolve_tag(t, repository, tag, digest);
	if (err != PC_OK)
		fprintf(stderr, "portcullis cache export: %s:%s is not in the tag "
		    "cache of upstream %s in %s\n", repository, tag, t->upstream,
		    t->cache_dir);
	return err;
}

static int
cache_export(const struct cache_args *a)
{
	struct cache_target t;
	struct export ex;
	char repository[REPO_NAME_MAX_LEN + 1];
	char tag[TAG_MAX_LEN + 1];
	char digest[DIGEST_SHA256_BUFSIZE];
	char *media_type = NULL;
	size_t size = 0;
	int status = CACHE_EXIT_ERROR;
	int err;

	if (a->n_positional != 2) {
		fprintf(stderr, "portcullis cache export: expected NAME[:TAG] and "
		    "DIR\n\n");
		cache_usage(stderr);
		return CACHE_EXIT_ERROR;
	}
	if (target_open(&t, a) != PC_OK)
		goto out;
	if (resolve_reference(&t, a->positional[0], repository, tag, digest) !=
	    PC_OK || make_layout_dirs(a->positional[1]) != PC_OK)
		goto out;

	memset(&ex, 0, sizeof(ex));
	ex.t = &t;
	ex.dir = a->positional[1];
	err = export_manifest(&ex, digest, 0, &media_type, &size);
	if (err == PC_ERR_NOTFOUND)
		fprintf(stderr, "portcullis cache export: manifest %s is not in the "
		    "cache in %s\n", digest, t.cache_dir);
	if (err == PC_OK)
		err = write_layout_index(&ex, digest, media_type, size,
		    tag[0] != '\0' ? tag : NULL);
	if (err != PC_OK)
		goto out;
	printf("exported %s/%s%s%s to %s\n  manifest  %s (%s)\n"
	    "  blobs     %zu written (%.1f MB)\n", t.upstream, repository,
	    tag[0] != '\0' ? ":" : "@", tag[0] != '\0' ? tag : digest, ex.dir,
	    digest, media_type, ex.blobs, (double)ex.bytes / 1e6);
	status = CACHE_EXIT_OK;
out:
	pc_free(media_type);
	target_close(&t);
	return status;
}

int
cmd_cache(int argc, char **argv)
{
	struct cache_args a;
	int r;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		cache_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CACHE_EXIT_ERROR : CACHE_EXIT_OK;
	}
	r = parse_args(argc - 1, argv + 1, &a);
	if (r != 0)
		return r > 0 ? CACHE_EXIT_OK : CACHE_EXIT_ERROR;
	/* The caches log their opening at info level: noise on a terminal. */
	log_set_level(LOG_LEVEL_WARN);
	if (strcmp(argv[1], "import") == 0)
		return cache_import(&a);
	if (strcmp(argv[1], "export") == 0)
		return cache_export(&a);
	fprintf(stderr, "portcullis cache: unknown subcommand '%s': use import or "
	    "export\n\n", argv[1]);
	cache_usage(stderr);
	return CACHE_EXIT_ERROR;
}
