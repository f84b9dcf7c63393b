/* embed: text embeddings (or a classifier's logits and labels) from an end-to-end hubexport SavedModel,
 * without Python.
 *
 * Loads the tf.text op libraries named with -l (TF_LoadLibrary), loads the SavedModel with tag
 * "serve" (TF_LoadSessionFromSavedModel), finds the tensors of a signature in the returned
 * MetaGraphDef, feeds the texts given on the command line as one string batch and prints the
 * requested output, one row per text, values separated by spaces.
 *
 *   embed [-l OP_LIBRARY.so]... [-s SIGNATURE] [-o OUTPUT] SAVED_MODEL_DIR TEXT...
 *
 * SIGNATURE defaults to serving_default and must have exactly one (string) input; OUTPUT
 * defaults to embedding and must be a float tensor [batch, ...] (e.g. a classifier's logits) or a
 * string tensor [batch, ...] (e.g. its label), printed as is.
 *
 * The MetaGraphDef is read with a minimal protobuf wire-format reader (only the fields on the
 * path signature_def -> inputs/outputs -> TensorInfo.name are decoded), so the program needs
 * nothing but the TensorFlow C API.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tensorflow/c/c_api.h"
#include "tensorflow/c/tf_tstring.h"

/* Field numbers in tensorflow/core/protobuf/meta_graph.proto. */
enum {
  META_GRAPH_SIGNATURE_DEF = 5, /* map<string, SignatureDef> */
  SIGNATURE_INPUTS = 1,         /* map<string, TensorInfo> */
  SIGNATURE_OUTPUTS = 2,        /* map<string, TensorInfo> */
  MAP_KEY = 1,
  MAP_VALUE = 2,
  TENSOR_INFO_NAME = 1,
};
enum { WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_LENGTH_DELIMITED = 2, WIRE_FIXED32 = 5 };

typedef struct {
  const uint8_t *data;
  size_t size;
} Bytes;

typedef struct {
  uint32_t number;
  uint32_t wire_type;
  Bytes value; /* the payload of a length-delimited field */
} Field;

static void die(const char *what, const char *detail) {
  fprintf(stderr, "embed: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit(1);
}

static void check(TF_Status *status, const char *what) {
  if (TF_GetCode(status) != TF_OK) die(what, TF_Message(status));
}

static int read_varint(Bytes *in, uint64_t *value) {
  *value = 0;
  for (int shift = 0; shift < 64 && in->size > 0; shift += 7) {
    uint8_t byte = *in->data++;
    in->size--;
    *value |= (uint64_t)(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return 1;
  }
  return 0;
}

static int skip(Bytes *in, size_t count) {
  if (count > in->size) return 0;
  in->data += count;
  in->size -= count;
  return 1;
}

/* Reads the next field of a message; returns 0 at the end, dies on malformed input. */
static int next_field(Bytes *in, Field *field) {
  uint64_t tag, length;
  if (in->size == 0) return 0;
  if (!read_varint(in, &tag)) die("malformed MetaGraphDef", "bad tag");
  field->number = (uint32_t)(tag >> 3);
  field->wire_type = (uint32_t)(tag & 7);
  field->value.data = NULL;
  field->value.size = 0;
  switch (field->wire_type) {
    case WIRE_VARINT:
      if (!read_varint(in, &length)) die("malformed MetaGraphDef", "bad varint");
      return 1;
    case WIRE_FIXED64:
      if (!skip(in, 8)) die("malformed MetaGraphDef", "truncated fixed64");
      return 1;
    case WIRE_FIXED32:
      if (!skip(in, 4)) die("malformed MetaGraphDef", "truncated fixed32");
      return 1;
    case WIRE_LENGTH_DELIMITED:
      if (!read_varint(in, &length) || length > in->size) die("malformed MetaGraphDef", "bad length");
      field->value.data = in->data;
      field->value.size = (size_t)length;
      skip(in, (size_t)length);
      return 1;
    default:
      die("malformed MetaGraphDef", "unsupported wire type");
      return 0;
  }
}

static int bytes_equal(Bytes bytes, const char *text) {
  return bytes.size == strlen(text) && memcmp(bytes.data, text, bytes.size) == 0;
}

/* In a message holding map field `number`, the value of the entry whose key is `key`. */
static int map_value(Bytes message, uint32_t number, const char *key, Bytes *value) {
  Field field;
  while (next_field(&message, &field)) {
    if (field.number != number || field.wire_type != WIRE_LENGTH_DELIMITED) continue;
    Bytes entry = field.value, found_key = {NULL, 0}, found_value = {NULL, 0};
    Field part;
    while (next_field(&entry, &part)) {
      if (part.number == MAP_KEY) found_key = part.value;
      if (part.number == MAP_VALUE) found_value = part.value;
    }
    if (found_key.data != NULL && bytes_equal(found_key, key)) {
      *value = found_value;
      return 1;
    }
  }
  return 0;
}

/* The number of entries of map field `number`, and the value of the first one. */
static int map_entries(Bytes message, uint32_t number, Bytes *first_value) {
  Field field;
  int count = 0;
  while (next_field(&message, &field)) {
    if (field.number != number || field.wire_type != WIRE_LENGTH_DELIMITED) continue;
    if (count++ == 0) {
      Bytes entry = field.value;
      Field part;
      while (next_field(&entry, &part))
        if (part.number == MAP_VALUE) *first_value = part.value;
    }
  }
  return count;
}

/* TensorInfo.name ("op_name:index") as a TF_Output of `graph`. */
static TF_Output tensor_of(TF_Graph *graph, Bytes tensor_info) {
  Field field;
  char name[512] = {0};
  while (next_field(&tensor_info, &field)) {
    if (field.number == TENSOR_INFO_NAME && field.value.size < sizeof(name)) {
      memcpy(name, field.value.data, field.value.size);
      name[field.value.size] = '\0';
    }
  }
  char *colon = strrchr(name, ':');
  int index = 0;
  if (colon != NULL) {
    index = atoi(colon + 1);
    *colon = '\0';
  }
  TF_Operation *operation = TF_GraphOperationByName(graph, name);
  if (operation == NULL) die("operation not found in the graph", name);
  TF_Output output = {operation, index};
  return output;
}

static TF_Tensor *string_batch(char **texts, int count) {
  int64_t dims[1] = {count};
  TF_Tensor *tensor = TF_AllocateTensor(TF_STRING, dims, 1, sizeof(TF_TString) * (size_t)count);
  TF_TString *strings = (TF_TString *)TF_TensorData(tensor);
  for (int i = 0; i < count; i++) {
    TF_StringInit(&strings[i]);
    TF_StringCopy(&strings[i], texts[i], strlen(texts[i]));
  }
  return tensor;
}

static void print_rows(TF_Tensor *tensor) {
  TF_DataType type = TF_TensorType(tensor);
  if (type != TF_FLOAT && type != TF_STRING) die("the output is neither a float nor a string tensor", NULL);
  int rank = TF_NumDims(tensor);
  if (rank < 1) die("the output has no batch dimension", NULL);
  int64_t rows = TF_Dim(tensor, 0), width = 1;
  for (int d = 1; d < rank; d++) width *= TF_Dim(tensor, d);
  for (int64_t row = 0; row < rows; row++) {
    for (int64_t column = 0; column < width; column++) {
      int64_t index = row * width + column;
      if (column) printf(" ");
      if (type == TF_FLOAT) {
        printf("%.9g", ((const float *)TF_TensorData(tensor))[index]);
      } else {
        const TF_TString *string = (const TF_TString *)TF_TensorData(tensor) + index;
        fwrite(TF_StringGetDataPointer(string), 1, TF_StringGetSize(string), stdout);
      }
    }
    printf("\n");
  }
}

int main(int argc, char **argv) {
  const char *signature = "serving_default", *output_name = "embedding";
  int option;
  TF_Status *status = TF_NewStatus();
  while ((option = getopt(argc, argv, "l:s:o:")) != -1) {
    if (option == 'l') {
      TF_LoadLibrary(optarg, status); /* registers the library's ops and kernels */
      check(status, optarg);
    } else if (option == 's') {
      signature = optarg;
    } else if (option == 'o') {
      output_name = optarg;
    } else {
      die("usage: embed [-l OP_LIBRARY.so]... [-s SIGNATURE] [-o OUTPUT] SAVED_MODEL_DIR TEXT...", NULL);
    }
  }
  if (argc - optind < 2) die("usage: embed [-l OP_LIBRARY.so]... [-s SIGNATURE] [-o OUTPUT] SAVED_MODEL_DIR TEXT...", NULL);
  const char *export_dir = argv[optind];
  char **texts = argv + optind + 1;
  int count = argc - optind - 1;

  TF_Graph *graph = TF_NewGraph();
  TF_SessionOptions *options = TF_NewSessionOptions();
  TF_Buffer *meta_graph = TF_NewBuffer();
  const char *tags[] = {"serve"};
  TF_Session *session =
      TF_LoadSessionFromSavedModel(options, NULL, export_dir, tags, 1, graph, meta_graph, status);
  check(status, "loading the SavedModel");

  Bytes meta = {(const uint8_t *)meta_graph->data, meta_graph->length}, signature_def, info;
  if (!map_value(meta, META_GRAPH_SIGNATURE_DEF, signature, &signature_def)) die("no such signature", signature);
  if (map_entries(signature_def, SIGNATURE_INPUTS, &info) != 1) die("the signature needs exactly one input", signature);
  TF_Output input = tensor_of(graph, info);
  if (!map_value(signature_def, SIGNATURE_OUTPUTS, output_name, &info)) die("the signature has no output", output_name);
  TF_Output output = tensor_of(graph, info);

  TF_Tensor *batch = string_batch(texts, count), *result = NULL;
  TF_SessionRun(session, NULL, &input, &batch, 1, &output, &result, 1, NULL, 0, NULL, status);
  check(status, "running the signature");
  print_rows(result);

  TF_DeleteTensor(result);
  TF_DeleteTensor(batch);
  TF_CloseSession(session, status);
  TF_DeleteSession(session, status);
  TF_DeleteBuffer(meta_graph);
  TF_DeleteSessionOptions(options);
  TF_DeleteGraph(graph);
  TF_DeleteStatus(status);
  return 0;
}
