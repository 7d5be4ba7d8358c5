/* ops_decl.h — kernel declarations over OPS_REAL / OPS_NAME; included twice by ops.h
 * (float, plain names; double, names ending in _f64). No include guard on purpose.
 * Buffer shapes are given in parentheses; see ops.h for the conventions (+=, sinks, threads). */

typedef struct {
    ops_sink_kind kind;
    OPS_REAL *dense;        /* DENSE: (numel) of the parameter */
    const int64_t *index;   /* SPARSE: (nnz) sorted flat row-major indices into the parameter */
    OPS_REAL *values;       /* SPARSE: (nnz) gradient at those indices */
    int64_t nnz;
} OPS_NAME(ops_sink);

/* sink += g, for a gradient g (n) already formed densely (vectors: biases, norm scales). */
void OPS_NAME(ops_sink_add_dense)(const OPS_NAME(ops_sink) *sink, const OPS_REAL *g, int64_t n);

/* C (M, N) = alpha * op(A) op(B) + beta * C, row-major; BLAS sgemm/dgemm underneath. */
void OPS_NAME(ops_gemm)(int trans_a, int trans_b, int M, int N, int K, OPS_REAL alpha,
                        const OPS_REAL *A, int lda, const OPS_REAL *B, int ldb, OPS_REAL beta,
                        OPS_REAL *C, int ldc);

/* ---- linear: y (N, O) = x (N, In) · wᵀ (In, O) + b (O); b may be NULL.
 * (Not `I`: <complex.h>, pulled in by cblas.h and lapacke.h, defines I as a macro.) ---- */
void OPS_NAME(linear_forward)(OPS_REAL *y, const OPS_REAL *x, const OPS_REAL *w, const OPS_REAL *b,
                              int N, int In, int O);
/* dx (N, In) += dy · w; dw sink += dyᵀ · x (O, In); db sink += Σ_n dy (O). */
void OPS_NAME(linear_backward)(OPS_REAL *dx, const OPS_NAME(ops_sink) *dw, const OPS_NAME(ops_sink) *db,
                               const OPS_REAL *dy, const OPS_REAL *x, const OPS_REAL *w, int N, int In, int O);

/* ---- conv2d: y (B, O, Ho, Wo) = conv(x (B, C, H, W), w (O, C, KH, KW)) + b (O); b may be NULL. ---- */
void OPS_NAME(conv2d_forward)(OPS_REAL *y, const OPS_REAL *x, const OPS_REAL *w, const OPS_REAL *b,
                              const ops_conv_shape *s, OPS_REAL *scratch);
/* dx (B, C, H, W) +=; dw sink (O, C, KH, KW) +=; db sink (O) +=. */
void OPS_NAME(conv2d_backward)(OPS_REAL *dx, const OPS_NAME(ops_sink) *dw, const OPS_NAME(ops_sink) *db,
                               const OPS_REAL *dy, const OPS_REAL *x, const OPS_REAL *w,
                               const ops_conv_shape *s, OPS_REAL *scratch);

/* ---- GroupNorm over (B, C, HW) with G groups; gamma, beta (C). Saves mean, rstd (B, G). ---- */
void OPS_NAME(groupnorm_forward)(OPS_REAL *y, OPS_REAL *mean, OPS_REAL *rstd, const OPS_REAL *x,
                                 const OPS_REAL *gamma, const OPS_REAL *beta, int B, int C, int HW, int G,
                                 OPS_REAL eps);
void OPS_NAME(groupnorm_backward)(OPS_REAL *dx, const OPS_NAME(ops_sink) *dgamma, const OPS_NAME(ops_sink) *dbeta,
                                  const OPS_REAL *dy, const OPS_REAL *x, const OPS_REAL *mean, const OPS_REAL *rstd,
                                  const OPS_REAL *gamma, int B, int C, int HW, int G);

/* ---- GroupNorm then SiLU, fused: y = silu(groupnorm(x)), bit-identical to the two ops in turn.
 * Saves only mean, rstd (B, G): apply re-forms y from x and them (the same bits as forward), and
 * backward re-forms the normalised values itself, so neither tensor has to be kept. ---- */
void OPS_NAME(groupnorm_silu_forward)(OPS_REAL *y, OPS_REAL *mean, OPS_REAL *rstd, const OPS_REAL *x,
                                      const OPS_REAL *gamma, const OPS_REAL *beta, int B, int C, int HW, int G,
                                      OPS_REAL eps);
void OPS_NAME(groupnorm_silu_apply)(OPS_REAL *y, const OPS_REAL *x, const OPS_REAL *mean, const OPS_REAL *rstd,
                                    const OPS_REAL *gamma, const OPS_REAL *beta, int B, int C, int HW, int G);
/* dy (B, C, HW), the gradient of y, is overwritten with that of the norm's output (scratch for
 * the caller afterwards); dx +=, dgamma and dbeta sinks +=. */
void OPS_NAME(groupnorm_silu_backward)(OPS_REAL *dx, const OPS_NAME(ops_sink) *dgamma, const OPS_NAME(ops_sink) *dbeta,
                                       OPS_REAL *dy, const OPS_REAL *x, const OPS_REAL *mean, const OPS_REAL *rstd,
                                       const OPS_REAL *gamma, const OPS_REAL *beta, int B, int C, int HW, int G);

/* ---- SiLU: y = x·σ(x), elementwise over n. y may alias x in forward. ---- */
void OPS_NAME(silu_forward)(OPS_REAL *y, const OPS_REAL *x, int64_t n);
void OPS_NAME(silu_backward)(OPS_REAL *dx, const OPS_REAL *dy, const OPS_REAL *x, int64_t n);

/* ---- multi-head scaled dot-product self-attention, no mask.
 * q, k, v, out (B, T, heads·D) with head h in columns [h·D, (h+1)·D); scale 1/sqrt(D);
 * softmax in working precision. Saves probs (B, heads, T, T). ---- */
void OPS_NAME(attention_forward)(OPS_REAL *out, OPS_REAL *probs, const OPS_REAL *q, const OPS_REAL *k,
                                 const OPS_REAL *v, int B, int T, int heads, int D);
/* dq, dk, dv (B, T, heads·D) +=; scratch: attention_scratch_numel(B, T, heads). */
void OPS_NAME(attention_backward)(OPS_REAL *dq, OPS_REAL *dk, OPS_REAL *dv, const OPS_REAL *dout,
                                  const OPS_REAL *probs, const OPS_REAL *q, const OPS_REAL *k, const OPS_REAL *v,
                                  int B, int T, int heads, int D, OPS_REAL *scratch);

/* ---- nearest 2× upsampling: y (B, C, 2H, 2W) from x (B, C, H, W). ---- */
void OPS_NAME(upsample2x_forward)(OPS_REAL *y, const OPS_REAL *x, int B, int C, int H, int W);
void OPS_NAME(upsample2x_backward)(OPS_REAL *dx, const OPS_REAL *dy, int B, int C, int H, int W);

/* ---- sinusoidal timestep embedding (diffusers get_timestep_embedding, max_period 10000):
 * out (N, dim) from t (N). half = dim/2; freq_k = exp(-ln(10000)·k/(half - freq_shift));
 * [sin(t·f), cos(t·f)], swapped to [cos, sin] when flip_sin_to_cos; odd dim zero-padded.
 * No backward: timesteps are not trained. ---- */
void OPS_NAME(timestep_embedding)(OPS_REAL *out, const OPS_REAL *t, int N, int dim, int flip_sin_to_cos,
                                  OPS_REAL freq_shift);

/* ---- embedding lookup: y (N, D) = table (V, D)[ids (N)]; ids must be in [0, V). ---- */
void OPS_NAME(embedding_forward)(OPS_REAL *y, const OPS_REAL *table, const int64_t *ids, int N, int D);
/* dtable sink (V, D) += scatter of dy (N, D). */
void OPS_NAME(embedding_backward)(const OPS_NAME(ops_sink) *dtable, const OPS_REAL *dy, const int64_t *ids,
                                  int N, int V, int D);

/* ---- channel concat: y (B, C1+C2, HW) = [a (B, C1, HW), b (B, C2, HW)]. ---- */
void OPS_NAME(concat_channels_forward)(OPS_REAL *y, const OPS_REAL *a, const OPS_REAL *b, int B, int C1, int C2,
                                       int HW);
/* da (B, C1, HW) +=, db (B, C2, HW) += from dy; either may be NULL. */
void OPS_NAME(concat_channels_backward)(OPS_REAL *da, OPS_REAL *db, const OPS_REAL *dy, int B, int C1, int C2,
                                        int HW);

/* ---- per-channel broadcast add: h (B, C, HW) += t (B, C) (the ResNet time-embedding add). ---- */
void OPS_NAME(add_channel_bias_forward)(OPS_REAL *h, const OPS_REAL *t, int B, int C, int HW);
/* dt (B, C) += Σ_hw dh. */
void OPS_NAME(add_channel_bias_backward)(OPS_REAL *dt, const OPS_REAL *dh, int B, int C, int HW);

/* ---- global average pooling: y (B, C) = mean over HW of x (B, C, HW); dx (B, C, HW) += dy / HW. ---- */
void OPS_NAME(global_avgpool_forward)(OPS_REAL *y, const OPS_REAL *x, int B, int C, int HW);
void OPS_NAME(global_avgpool_backward)(OPS_REAL *dx, const OPS_REAL *dy, int B, int C, int HW);

/* ---- softmax cross-entropy, mean over N rows: returns −(1/N) Σ_n log softmax(logits_n)[labels_n]
 * for logits (N, K), labels (N) in [0, K); saves probs (N, K). ---- */
OPS_REAL OPS_NAME(softmax_xent_forward)(OPS_REAL *probs, const OPS_REAL *logits, const int64_t *labels, int N, int K);
/* dlogits (N, K) += dloss · (probs − onehot(labels)) / N. */
void OPS_NAME(softmax_xent_backward)(OPS_REAL *dlogits, const OPS_REAL *probs, const int64_t *labels, int N, int K,
                                     OPS_REAL dloss);

/* ---- elementwise helpers over n ---- */
void OPS_NAME(ops_add)(OPS_REAL *y, const OPS_REAL *a, const OPS_REAL *b, int64_t n);   /* y = a + b */
void OPS_NAME(ops_accumulate)(OPS_REAL *y, const OPS_REAL *x, int64_t n);             /* y += x */
void OPS_NAME(ops_scale)(OPS_REAL *y, OPS_REAL s, int64_t n);                         /* y *= s */
void OPS_NAME(ops_zero)(OPS_REAL *y, int64_t n);                                      /* y = 0, threaded */

/* ---- transpose of the last two axes: y (B, Cc, R) from x (B, R, Cc); dx += transposed dy. ---- */
void OPS_NAME(transpose_forward)(OPS_REAL *y, const OPS_REAL *x, int B, int R, int Cc);
void OPS_NAME(transpose_backward)(OPS_REAL *dx, const OPS_REAL *dy, int B, int R, int Cc);
