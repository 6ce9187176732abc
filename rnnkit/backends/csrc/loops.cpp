// rnnkit's compiled time loops: the per-step loops of the fused LSTM and GRU kernels
// (rnnkit/cells/lstm.py, rnnkit/cells/gru.py), their variants and IndRNN in C++, so that a step costs one matmul call
// and one pass over its gates instead of 6-8 Python-dispatched tensor ops.
//
// The equations, gate order and saved tensors are exactly those of the Python loops, which
// stay the reference and the fallback; tests check the two agree (float64, 1e-12).
// Registered as torch operators (torch.ops.rnnkit_loops.*), loaded with torch.ops.load_library.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <vector>

using at::Tensor;

namespace {

// exp without libm calls, so that the compiler vectorises the gate loops (libm's exp is scalar):
// x = k ln2 + r, |r| <= ln2/2, exp(r) by its Taylor polynomial (degree 12 in double: relative error
// < 1e-15; degree 7 in float: < 1e-8), 2^k put into the exponent bits. Inputs are clamped to the
// finite range first (sigmoid and tanh saturate long before it).
inline double exp_poly(double x) {
  x = x < -708.0 ? -708.0 : (x > 708.0 ? 708.0 : x);
  const double shifter = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer in the low bits
  const double t = x * 1.4426950408889634 + shifter;
  const double k = t - shifter;
  const double r = (x - k * 0.6931471803691238) - k * 1.9082149292705877e-10;
  double p = 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0; p = p * r + 1.0 / 3628800.0; p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0; p = p * r + 1.0 / 5040.0; p = p * r + 1.0 / 720.0; p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0; p = p * r + 1.0 / 6.0; p = p * r + 0.5; p = p * r + 1.0; p = p * r + 1.0;
  int64_t bits;
  std::memcpy(&bits, &t, sizeof bits);
  const int64_t e = (bits - int64_t(0x4338000000000000LL) + 1023) << 52;  // low bits of t hold k
  double scale;
  std::memcpy(&scale, &e, sizeof scale);
  return p * scale;
}

inline float exp_poly(float x) {
  x = x < -87.0f ? -87.0f : (x > 87.0f ? 87.0f : x);
  const float shifter = 12582912.0f;  // 1.5 * 2^23
  const float t = x * 1.44269504f + shifter;
  const float k = t - shifter;
  const float r = (x - k * 0.693145752f) - k * 1.42860677e-6f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f; p = p * r + 1.0f / 120.0f; p = p * r + 1.0f / 24.0f; p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f; p = p * r + 1.0f; p = p * r + 1.0f;
  int32_t bits;
  std::memcpy(&bits, &t, sizeof bits);
  const int32_t e = (bits - int32_t(0x4B400000) + 127) << 23;
  float scale;
  std::memcpy(&scale, &e, sizeof scale);
  return p * scale;
}

template <typename s_t>
inline s_t sigm(s_t x) { return s_t(1) / (s_t(1) + exp_poly(-x)); }

// tanh(x) = sign(x) (1 - e) / (1 + e), e = exp(-2|x|): no cancellation near 0 beyond a few ulps
template <typename s_t>
inline s_t tanh_poly(s_t x) {
  const s_t a = x < s_t(0) ? -x : x;
  const s_t e = exp_poly(s_t(-2) * a);
  const s_t v = (s_t(1) - e) / (s_t(1) + e);
  return x < s_t(0) ? -v : v;
}

// Σ_j f(j) over j < n in eight double partial sums: the compiler may vectorise eight independent
// accumulators, never one (reordering a floating-point sum is not allowed without -ffast-math); the
// order is fixed, so the result is too.
template <typename F>
inline double sum8(int64_t n, F f) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    for (int l = 0; l < 8; ++l) acc[l] += f(j + l);
  }
  for (; j < n; ++j) acc[0] += f(j);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// Two such sums in one pass: f(j, u, v) sets the j-th terms of both (one read of the row, not two).
template <typename F>
inline void sum8x2(int64_t n, F f, double& s1, double& s2) {
  double a1[8] = {0, 0, 0, 0, 0, 0, 0, 0}, a2[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    for (int l = 0; l < 8; ++l) {
      double u, v;
      f(j + l, u, v);
      a1[l] += u;
      a2[l] += v;
    }
  }
  for (; j < n; ++j) {
    double u, v;
    f(j, u, v);
    a1[0] += u;
    a2[0] += v;
  }
  s1 = ((a1[0] + a1[1]) + (a1[2] + a1[3])) + ((a1[4] + a1[5]) + (a1[6] + a1[7]));
  s2 = ((a2[0] + a2[1]) + (a2[2] + a2[3])) + ((a2[4] + a2[5]) + (a2[6] + a2[7]));
}

// Layer norm of one row a[0..n) (biased variance, sums in double as torch's kernel accumulates):
// its mean and 1/sqrt(var + eps).
template <typename s_t>
inline void row_stats(const s_t* __restrict a, int64_t n, double eps, s_t& mean, s_t& rstd) {
  const double m = sum8(n, [&](int64_t j) { return double(a[j]); }) / n;
  const double v = sum8(n, [&](int64_t j) { const double d = double(a[j]) - m; return d * d; });
  mean = s_t(m);
  rstd = s_t(1.0 / std::sqrt(v / n + eps));
}

// Layer norm's backward for one row without a shift: dy the gradient of LN(a; γ) -> dx the gradient of a,
// dx = rstd (γ dy - mean(γ dy) - â mean(γ dy ⊙ â)), â = (a - mean) rstd.
template <typename s_t>
inline void ln_backward_row(const s_t* __restrict a, const s_t* __restrict gamma, const s_t* __restrict dy,
                            s_t* __restrict dx, int64_t n, s_t mean, s_t rstd) {
  const s_t q1s = s_t(sum8(n, [&](int64_t j) { return double(gamma[j] * dy[j]); }) / n);
  const s_t q2s = s_t(sum8(n, [&](int64_t j) { return double(gamma[j] * dy[j] * (a[j] - mean) * rstd); }) / n);
  for (int64_t j = 0; j < n; ++j) dx[j] = rstd * (gamma[j] * dy[j] - q1s - (a[j] - mean) * rstd * q2s);
}

// Layer norm's backward needs two means over the row: mean(γ dy) and mean(γ dy ⊙ â), â = (a - mean) rstd;
// both in one pass.
template <typename s_t>
inline void ln_grad_means(const s_t* __restrict a, const s_t* __restrict gamma, const s_t* __restrict dy, int64_t n,
                          s_t mean, s_t rstd, s_t& m1, s_t& m2) {
  double q1, q2;
  sum8x2(n, [&](int64_t j, double& u, double& v) {
    const s_t gd = gamma[j] * dy[j];
    u = double(gd);
    v = double(gd * ((a[j] - mean) * rstd));
  }, q1, q2);
  m1 = s_t(q1 / n);
  m2 = s_t(q2 / n);
}

// The same fused with the gain's gradient of the row, added to the double sums d_g += dy ⊙ â: two
// passes over the row instead of four.
template <typename s_t>
inline void ln_backward_gain_row(const s_t* __restrict a, const s_t* __restrict gamma, const s_t* __restrict dy,
                                 s_t* __restrict dx, double* __restrict d_g, int64_t n, s_t mean, s_t rstd) {
  s_t q1s, q2s;
  ln_grad_means(a, gamma, dy, n, mean, rstd, q1s, q2s);
  for (int64_t j = 0; j < n; ++j) {
    const s_t ah = (a[j] - mean) * rstd;
    dx[j] = rstd * (gamma[j] * dy[j] - q1s - ah * q2s);
    d_g[j] += double(dy[j] * ah);
  }
}

inline int64_t rows_at(const std::vector<int64_t>& bs, int64_t t, int64_t B) {
  return bs.empty() ? B : bs[t];
}

// A buffer every row of which the loop writes: zeros only where rows past a sequence's end must read
// as zero (batch_sizes given); filling 8 MB of gates with zeros first was 10% of a small LSTM's step time.
inline Tensor buffer(at::IntArrayRef size, const at::TensorOptions& opts, const std::vector<int64_t>& batch_sizes) {
  return batch_sizes.empty() ? at::empty(size, opts) : at::zeros(size, opts);
}

// H_{t-1} ⊙ M (recurrent dropout) into a buffer kept across steps, or H_{t-1} itself: the product of
// every step used to allocate a new tensor.
inline Tensor masked(const Tensor& h_prev, const c10::optional<Tensor>& rec, Tensor& buf, int64_t b) {
  if (!rec.has_value()) return h_prev;
  if (!buf.defined()) buf = at::empty({rec->size(0), rec->size(1)}, h_prev.options());
  Tensor out = buf.narrow(0, 0, b);
  at::mul_out(out, h_prev, rec->narrow(0, 0, b));
  return out;
}

// The row kernels: one row of a step's elementwise work, templates on the variant and with restrict
// pointers (every argument is its own stretch of memory), so that the compiler vectorises them; with
// the branches and possible aliases inside one loop it kept them scalar (3-4x slower).

// LSTM forward, one row: gi..go the gate pre-activations, overwritten with i, f, g, o; c, tc, h the
// step's C_t, tanh C̃_t and H_t. PEEP: peepholes pp = [p_i p_f p_o]; ZONE: zoneout weights zh, zc,
// with m the step's own M_t = o ⊙ tanh C̃_t and hp the previous H.
template <typename s_t, bool PEEP, bool ZONE>
void lstm_row(s_t* __restrict gi, s_t* __restrict gf, s_t* __restrict gg, s_t* __restrict go,
              const s_t* __restrict cp, s_t* __restrict c, s_t* __restrict tc, s_t* __restrict h, s_t* __restrict m,
              const s_t* __restrict hp, const s_t* __restrict zh, const s_t* __restrict zc,
              const s_t* __restrict pp, int64_t H) {
  for (int64_t j = 0; j < H; ++j) {
    const s_t cpv = cp[j];
    const s_t i = sigm(PEEP ? gi[j] + pp[j] * cpv : gi[j]);
    const s_t f = sigm(PEEP ? gf[j] + pp[H + j] * cpv : gf[j]);
    const s_t g = tanh_poly(gg[j]);
    const s_t cv = f * cpv + i * g;
    const s_t o = sigm(PEEP ? go[j] + pp[2 * H + j] * cv : go[j]);
    const s_t tv = tanh_poly(cv);
    gi[j] = i; gf[j] = f; gg[j] = g; go[j] = o;
    tc[j] = tv;
    if (ZONE) {
      const s_t mv = o * tv;
      m[j] = mv;
      c[j] = cv + zc[j] * (cpv - cv);       // Z ⊙ C_{t-1} + (1 - Z) ⊙ C̃_t
      h[j] = mv + zh[j] * (hp[j] - mv);
    } else {
      c[j] = cv;
      h[j] = o * tv;
    }
  }
}

// LSTM backward, one row: from the activated gates, the step's tanh C̃_t (tc), C_{t-1} (cp), the
// carried dH (dh, read; its zoneout share written to skip) and dC (dc, updated in place), and the
// output gradient dout, the pre-activation gradients dgi..dgo.
template <typename s_t, bool PEEP, bool ZONE>
void lstm_row_backward(const s_t* __restrict gi, const s_t* __restrict gf, const s_t* __restrict gg,
                       const s_t* __restrict go, const s_t* __restrict tc, const s_t* __restrict cp,
                       const s_t* __restrict dh, const s_t* __restrict dout, s_t* __restrict dc,
                       s_t* __restrict dgi, s_t* __restrict dgf, s_t* __restrict dgg, s_t* __restrict dgo,
                       s_t* __restrict skip, const s_t* __restrict zh, const s_t* __restrict zc,
                       const s_t* __restrict pp, int64_t H) {
  for (int64_t j = 0; j < H; ++j) {
    const s_t i = gi[j], f = gf[j], g = gg[j], o = go[j], tv = tc[j];
    s_t dm = dh[j] + dout[j];
    s_t dc_in = dc[j], dc_skip = s_t(0);
    if (ZONE) {
      const s_t sk = dm * zh[j];
      skip[j] = sk;
      dc_skip = dc_in * zc[j];
      dc_in -= dc_skip;
      dm -= sk;
    }
    const s_t d_o = dm * tv * o * (s_t(1) - o);
    const s_t dcv = dc_in + dm * o * (s_t(1) - tv * tv) + (PEEP ? d_o * pp[2 * H + j] : s_t(0));
    const s_t d_i = dcv * g * i * (s_t(1) - i), d_f = dcv * cp[j] * f * (s_t(1) - f);
    dgo[j] = d_o;
    dgi[j] = d_i;
    dgf[j] = d_f;
    dgg[j] = dcv * i * (s_t(1) - g * g);
    dc[j] = dcv * f + dc_skip + (PEEP ? d_i * pp[j] + d_f * pp[H + j] : s_t(0));
  }
}

// GRU forward, one row: xr, xz, xn the input side (overwritten with r, z, n), ar, az, an the recurrent
// side H_{t-1} W_hh^T + b_hh, hp the previous H, h the new one; ZONE: zoneout weights zh.
template <typename s_t, bool ZONE>
void gru_row(s_t* __restrict xr, s_t* __restrict xz, s_t* __restrict xn, const s_t* __restrict ar,
             const s_t* __restrict az, const s_t* __restrict an, const s_t* __restrict hp, s_t* __restrict h,
             const s_t* __restrict zh, int64_t H) {
  for (int64_t j = 0; j < H; ++j) {
    const s_t rv = sigm(xr[j] + ar[j]), zv = sigm(xz[j] + az[j]);
    const s_t nv = tanh_poly(xn[j] + rv * an[j]);
    xr[j] = rv; xz[j] = zv; xn[j] = nv;
    const s_t hv = nv + zv * (hp[j] - nv);
    // zoneout: H_t = H̃_t + Z ⊙ (H_{t-1} - H̃_t), as torch.lerp in the Python loop
    h[j] = ZONE ? hv + zh[j] * (hp[j] - hv) : hv;
  }
}

// GRU backward, one row: gates r, z, n; an the recurrent n block; hp the previous H; dh the carried
// gradient, dout the output's; writes the gradients of [xr xz xn] (dx*) and of the recurrent side
// (da*), and tmp = the share of dH_{t-1} that does not go through W_hh.
template <typename s_t, bool ZONE>
void gru_row_backward(const s_t* __restrict gr, const s_t* __restrict gz, const s_t* __restrict gn,
                      const s_t* __restrict an, const s_t* __restrict hp, const s_t* __restrict dh,
                      const s_t* __restrict dout, s_t* __restrict dxr, s_t* __restrict dxz, s_t* __restrict dxn,
                      s_t* __restrict dar, s_t* __restrict daz, s_t* __restrict dan, s_t* __restrict tmp,
                      const s_t* __restrict zh, int64_t H) {
  for (int64_t j = 0; j < H; ++j) {
    const s_t rv = gr[j], zv = gz[j], nv = gn[j];
    const s_t d_all = dh[j] + dout[j];
    const s_t zo = ZONE ? zh[j] : s_t(0);
    const s_t d = ZONE ? d_all * (s_t(1) - zo) : d_all;
    const s_t dn = d * (s_t(1) - zv) * (s_t(1) - nv * nv);
    const s_t dz = d * (hp[j] - nv) * zv * (s_t(1) - zv);
    const s_t dr = dn * an[j] * rv * (s_t(1) - rv);
    dxr[j] = dr; dxz[j] = dz; dxn[j] = dn;
    dar[j] = dr; daz[j] = dz; dan[j] = dn * rv;
    tmp[j] = ZONE ? d * zv + d_all * zo : d * zv;
  }
}

// Layer-normalised LSTM, one row (forward): x (4H) the input side, to which LN(a; γ_h) is added; g (4H) the
// activated gates i, f, g, o; c, ty, h: C_t, tanh(LN(C_t; γ_c) + β_c) and H_t; st the row's statistics
// [mean(a) rstd(a) mean(C_t) rstd(C_t)], kept for the backward (recomputing them there was four more
// passes over the row).
template <typename s_t>
void lnlstm_row(const s_t* __restrict x, s_t* __restrict g, const s_t* __restrict a, const s_t* __restrict gh,
                const s_t* __restrict gc, const s_t* __restrict bc, const s_t* __restrict cp, s_t* __restrict c,
                s_t* __restrict ty, s_t* __restrict h, s_t* __restrict st, int64_t H, double eps) {
  const int64_t G = 4 * H;
  s_t ms, rs;
  row_stats(a, G, eps, ms, rs);
  for (int64_t j = 0; j < G; ++j) g[j] = x[j] + (a[j] - ms) * rs * gh[j];
  s_t* __restrict gi = g;
  s_t* __restrict gf = g + H;
  s_t* __restrict gg = g + 2 * H;
  s_t* __restrict go = g + 3 * H;
  for (int64_t j = 0; j < H; ++j) {
    const s_t i = sigm(gi[j]), f = sigm(gf[j]), gv = tanh_poly(gg[j]), o = sigm(go[j]);
    gi[j] = i; gf[j] = f; gg[j] = gv; go[j] = o;
    c[j] = f * cp[j] + i * gv;
  }
  s_t mcs, rc;
  row_stats(c, H, eps, mcs, rc);
  for (int64_t j = 0; j < H; ++j) {
    const s_t tv = tanh_poly((c[j] - mcs) * rc * gc[j] + bc[j]);
    ty[j] = tv;
    h[j] = go[j] * tv;
  }
  st[0] = ms; st[1] = rs; st[2] = mcs; st[3] = rc;
}

// Its backward, one row: the pre-activation gradients dg (4H) and dy (of LN(C_t)); dc updated in place; the
// cell norm's gain and shift gradients added to the double sums d_gc += dy ⊙ Ĉ, d_bc += dy.
template <typename s_t>
void lnlstm_row_backward(const s_t* __restrict g, const s_t* __restrict c, const s_t* __restrict cp,
                         const s_t* __restrict ty, const s_t* __restrict dh, const s_t* __restrict dout,
                         s_t* __restrict dc, const s_t* __restrict gc, s_t* __restrict dg, s_t* __restrict dy,
                         double* __restrict d_gc, double* __restrict d_bc, int64_t H, s_t mcs, s_t rc) {
  const s_t* __restrict go = g + 3 * H;
  s_t* __restrict dgo = dg + 3 * H;
  for (int64_t j = 0; j < H; ++j) {
    const s_t o = go[j], tv = ty[j];
    const s_t dm = dh[j] + dout[j];
    dy[j] = dm * o * (s_t(1) - tv * tv);
    dgo[j] = dm * tv * o * (s_t(1) - o);
  }
  s_t s1s, s2s;
  ln_grad_means(c, gc, dy, H, mcs, rc, s1s, s2s);
  const s_t* __restrict gi = g;
  const s_t* __restrict gf = g + H;
  const s_t* __restrict gg = g + 2 * H;
  s_t* __restrict dgi = dg;
  s_t* __restrict dgf = dg + H;
  s_t* __restrict dgg = dg + 2 * H;
  for (int64_t j = 0; j < H; ++j) {
    const s_t ch = (c[j] - mcs) * rc;
    const s_t dcv = dc[j] + rc * (gc[j] * dy[j] - s1s - ch * s2s);
    const s_t i = gi[j], f = gf[j], gv = gg[j];
    dgi[j] = dcv * gv * i * (s_t(1) - i);
    dgf[j] = dcv * cp[j] * f * (s_t(1) - f);
    dgg[j] = dcv * i * (s_t(1) - gv * gv);
    dc[j] = dcv * f;
    d_gc[j] += double(dy[j] * ch);
    d_bc[j] += double(dy[j]);
  }
}

// out = LN(a; γ, β) of one row with its statistics (mean, rstd).
template <typename s_t>
void ln_row(const s_t* __restrict a, const s_t* __restrict gamma, const s_t* __restrict beta, s_t* __restrict out,
            int64_t n, s_t mean, s_t rstd) {
  for (int64_t j = 0; j < n; ++j) out[j] = (a[j] - mean) * rstd * gamma[j] + beta[j];
}

// LSTM forward. gates (T, B, 4H): the input projection plus b_hh, overwritten with the activated
// gates i, f, g, o (g = tanh). Returns out (T, B, H) = H_t, cs (T, B, H) = C_t, tcs = tanh(C_t);
// with batch_sizes (rows sorted by length) rows past a sequence's end stay zero.
// rec (B, H), optional: the recurrent-dropout mask on H_{t-1} where it enters W_hh.
// peep (3H,), optional: peephole weights [p_i p_f p_o] (rnnkit/cells/peephole_lstm.py): i and f also see
// C_{t-1}, o sees C_t (not with zoneout).
// zh, zc (T, B, H), optional: zoneout's weights of the previous h and c (0/1 in training, p in eval);
// with them out holds the zoned H_t, cs the zoned C_t, tcs tanh of the step's own C̃_t, and ms the
// step's own M_t = o ⊙ tanh C̃_t (else ms is out itself).
std::tuple<Tensor, Tensor, Tensor, Tensor> lstm_forward(Tensor gates, const Tensor& h0, const Tensor& c0,
                                                        const Tensor& w_hh, const c10::optional<Tensor>& rec,
                                                        const c10::optional<Tensor>& zh, const c10::optional<Tensor>& zc,
                                                        const c10::optional<Tensor>& peep,
                                                        std::vector<int64_t> batch_sizes) {
  TORCH_CHECK(gates.is_contiguous() && gates.dim() == 3, "lstm_forward: gates must be a contiguous (T, B, 4H)");
  const int64_t T = gates.size(0), B = gates.size(1), G = gates.size(2), H = G / 4;
  auto opts = gates.options();
  Tensor out = buffer({T, B, H}, opts, batch_sizes), cs = buffer({T, B, H}, opts, batch_sizes);
  Tensor tcs = buffer({T, B, H}, opts, batch_sizes);
  const bool zone = zh.has_value();
  Tensor ms = zone ? buffer({T, B, H}, opts, batch_sizes) : out;
  Tensor zhc = zone ? zh->contiguous() : Tensor(), zcc = zone ? zc->contiguous() : Tensor();
  TORCH_CHECK(!(zone && peep.has_value()), "lstm_forward: peepholes with zoneout run the Python loop");
  Tensor w_t = w_hh.t();
  Tensor h0c = h0.contiguous(), c0c = c0.contiguous();
  Tensor pc = peep.has_value() ? peep->contiguous() : Tensor();
  Tensor hm;  // H_{t-1} ⊙ M with recurrent dropout (masked)
  AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "lstm_forward", [&] {
    for (int64_t t = 0; t < T; ++t) {
      const int64_t b = rows_at(batch_sizes, t, B);
      Tensor g_t = gates[t].narrow(0, 0, b);
      Tensor h_prev = (t == 0 ? h0c : out[t - 1]).narrow(0, 0, b);
      g_t.addmm_(masked(h_prev, rec, hm, b), w_t);
      scalar_t* g = gates.data_ptr<scalar_t>() + t * B * G;
      const scalar_t* cp = t == 0 ? c0c.data_ptr<scalar_t>() : cs.data_ptr<scalar_t>() + (t - 1) * B * H;
      scalar_t* c = cs.data_ptr<scalar_t>() + t * B * H;
      scalar_t* tc = tcs.data_ptr<scalar_t>() + t * B * H;
      scalar_t* h = out.data_ptr<scalar_t>() + t * B * H;
      const scalar_t* hp = t == 0 ? h0c.data_ptr<scalar_t>() : out.data_ptr<scalar_t>() + (t - 1) * B * H;
      const scalar_t* zhp = zone ? zhc.data_ptr<scalar_t>() + t * B * H : nullptr;
      const scalar_t* zcp = zone ? zcc.data_ptr<scalar_t>() + t * B * H : nullptr;
      scalar_t* m = ms.data_ptr<scalar_t>() + t * B * H;
      const scalar_t* pp = peep.has_value() ? pc.data_ptr<scalar_t>() : nullptr;
      auto row = pp ? lstm_row<scalar_t, true, false> : zone ? lstm_row<scalar_t, false, true>
                                                          : lstm_row<scalar_t, false, false>;
      for (int64_t r = 0; r < b; ++r) {
        const int64_t k = r * H;
        scalar_t* gr = g + r * G;
        row(gr, gr + H, gr + 2 * H, gr + 3 * H, cp + k, c + k, tc + k, h + k, m + k, hp + k,
            zone ? zhp + k : nullptr, zone ? zcp + k : nullptr, pp, H);
      }
    }
  });
  return {out, cs, tcs, ms};
}

// LSTM backward over time. dh, dc (B, H): the gradients reaching the final state, updated in place to
// those of (h0, c0). Returns dgates (T, B, 4H), the gradient of the pre-activations [i f g o].
Tensor lstm_backward(const Tensor& gates, const Tensor& cs, const Tensor& tcs, const Tensor& c0, const Tensor& dout,
                     Tensor dh, Tensor dc, const Tensor& w_hh, const c10::optional<Tensor>& rec,
                     const c10::optional<Tensor>& zh, const c10::optional<Tensor>& zc,
                     const c10::optional<Tensor>& peep, std::vector<int64_t> batch_sizes) {
  const int64_t T = gates.size(0), B = gates.size(1), G = gates.size(2), H = G / 4;
  TORCH_CHECK(dh.is_contiguous() && dc.is_contiguous() && dout.is_contiguous(), "lstm_backward: contiguous inputs");
  Tensor dgates = buffer({T, B, G}, gates.options(), batch_sizes);
  Tensor c0c = c0.contiguous();
  const bool zone = zh.has_value();
  Tensor zhc = zone ? zh->contiguous() : Tensor(), zcc = zone ? zc->contiguous() : Tensor();
  Tensor skip = zone ? at::zeros({B, H}, gates.options()) : Tensor();   // Z ⊙ dH_t, straight to H_{t-1}
  TORCH_CHECK(!(zone && peep.has_value()), "lstm_backward: peepholes with zoneout run the Python loop");
  const bool has_p = peep.has_value();
  Tensor pc = has_p ? peep->contiguous() : at::zeros({3 * H}, gates.options());
  AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "lstm_backward", [&] {
    scalar_t* dhp = dh.data_ptr<scalar_t>();
    scalar_t* dcp = dc.data_ptr<scalar_t>();
    scalar_t* skp = zone ? skip.data_ptr<scalar_t>() : nullptr;
    const scalar_t* pp = pc.data_ptr<scalar_t>();
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t b = rows_at(batch_sizes, t, B);
      const scalar_t* g = gates.data_ptr<scalar_t>() + t * B * G;
      const scalar_t* cp = t == 0 ? c0c.data_ptr<scalar_t>() : cs.data_ptr<scalar_t>() + (t - 1) * B * H;
      const scalar_t* tc = tcs.data_ptr<scalar_t>() + t * B * H;
      const scalar_t* dop = dout.data_ptr<scalar_t>() + t * B * H;
      scalar_t* dg = dgates.data_ptr<scalar_t>() + t * B * G;
      const scalar_t* zhp = zone ? zhc.data_ptr<scalar_t>() + t * B * H : nullptr;
      const scalar_t* zcp = zone ? zcc.data_ptr<scalar_t>() + t * B * H : nullptr;
      auto row = has_p ? lstm_row_backward<scalar_t, true, false>
                       : zone ? lstm_row_backward<scalar_t, false, true> : lstm_row_backward<scalar_t, false, false>;
      for (int64_t r = 0; r < b; ++r) {
        const int64_t k = r * H;
        const scalar_t* gr = g + r * G;
        scalar_t* dgr = dg + r * G;
        row(gr, gr + H, gr + 2 * H, gr + 3 * H, tc + k, cp + k, dhp + k, dop + k, dcp + k, dgr, dgr + H, dgr + 2 * H,
            dgr + 3 * H, zone ? skp + k : nullptr, zone ? zhp + k : nullptr, zone ? zcp + k : nullptr, pp, H);
      }
      Tensor dh_b = dh.narrow(0, 0, b);
      at::mm_out(dh_b, dgates[t].narrow(0, 0, b), w_hh);
      if (rec.has_value()) dh_b.mul_(rec->narrow(0, 0, b));
      if (zone) dh_b.add_(skip.narrow(0, 0, b));
    }
  });
  return dgates;
}

// GRU forward (torch.nn.GRU layout, reset after the matmul). xp (T, B, 3H): the input projection
// [xr xz xn] with b_ih, overwritten with the activated gates [r z n]. hps (T, B, 3H) receives
// H_{t-1} W_hh^T + b_hh (the backward reads its n block). Returns out (T, B, H).
Tensor gru_forward(Tensor xp, Tensor hps, const Tensor& h0, const Tensor& w_hh, const c10::optional<Tensor>& b_hh,
                   const c10::optional<Tensor>& rec, std::vector<int64_t> batch_sizes,
                   const c10::optional<Tensor>& zh) {
  TORCH_CHECK(xp.is_contiguous() && hps.is_contiguous(), "gru_forward: contiguous buffers");
  const int64_t T = xp.size(0), B = xp.size(1), G = xp.size(2), H = G / 3;
  Tensor out = buffer({T, B, H}, xp.options(), batch_sizes);
  Tensor w_t = w_hh.t();
  Tensor h0c = h0.contiguous();
  Tensor zhc = zh.has_value() ? zh->contiguous() : Tensor();
  Tensor hm;  // H_{t-1} ⊙ M with recurrent dropout (masked)
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "gru_forward", [&] {
    const scalar_t* zv_all = zh.has_value() ? zhc.data_ptr<scalar_t>() : nullptr;
    for (int64_t t = 0; t < T; ++t) {
      const int64_t b = rows_at(batch_sizes, t, B);
      Tensor hp_t = hps[t].narrow(0, 0, b);
      Tensor h_prev = (t == 0 ? h0c : out[t - 1]).narrow(0, 0, b);
      Tensor h_in = masked(h_prev, rec, hm, b);
      if (b_hh.has_value()) {
        at::addmm_out(hp_t, *b_hh, h_in, w_t);
      } else {
        at::mm_out(hp_t, h_in, w_t);
      }
      scalar_t* x = xp.data_ptr<scalar_t>() + t * B * G;
      const scalar_t* a = hps.data_ptr<scalar_t>() + t * B * G;
      const scalar_t* hpv = h_prev.data_ptr<scalar_t>();
      scalar_t* h = out.data_ptr<scalar_t>() + t * B * H;
      auto row = zv_all ? gru_row<scalar_t, true> : gru_row<scalar_t, false>;
      for (int64_t r = 0; r < b; ++r) {
        scalar_t* xr = x + r * G;
        const scalar_t* ar = a + r * G;
        const int64_t k = r * H;
        row(xr, xr + H, xr + 2 * H, ar, ar + H, ar + 2 * H, hpv + k, h + k, zv_all ? zv_all + t * B * H + k : nullptr,
            H);
      }
    }
  });
  return out;
}

// GRU backward over time. dh (B, H): the final state's gradient, updated in place to that of h0.
// Returns (dxp (T, B, 3H), dhp (T, B, 3H)): the gradients of [xr xz xn] and of H_{t-1} W_hh^T + b_hh.
// zh (T, B, H), optional: zoneout's weights; Z ⊙ dH_t goes straight to H_{t-1}, (1 - Z) ⊙ dH_t into the step.
std::tuple<Tensor, Tensor> gru_backward(const Tensor& gates, const Tensor& hps, const Tensor& out, const Tensor& h0,
                                        const Tensor& dout, Tensor dh, const Tensor& w_hh,
                                        const c10::optional<Tensor>& rec, std::vector<int64_t> batch_sizes,
                                        const c10::optional<Tensor>& zh) {
  const int64_t T = gates.size(0), B = gates.size(1), G = gates.size(2), H = G / 3;
  TORCH_CHECK(dh.is_contiguous() && dout.is_contiguous(), "gru_backward: contiguous inputs");
  Tensor dxp = buffer({T, B, G}, gates.options(), batch_sizes), dhp = buffer({T, B, G}, gates.options(), batch_sizes);
  Tensor h0c = h0.contiguous();
  Tensor tmp = at::empty({B, H}, gates.options());
  Tensor zhc = zh.has_value() ? zh->contiguous() : Tensor();
  AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "gru_backward", [&] {
    const scalar_t* zv_all = zh.has_value() ? zhc.data_ptr<scalar_t>() : nullptr;
    scalar_t* dhv = dh.data_ptr<scalar_t>();
    scalar_t* tmpv = tmp.data_ptr<scalar_t>();
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t b = rows_at(batch_sizes, t, B);
      const scalar_t* g = gates.data_ptr<scalar_t>() + t * B * G;
      const scalar_t* a = hps.data_ptr<scalar_t>() + t * B * G;
      const scalar_t* hpv = t == 0 ? h0c.data_ptr<scalar_t>() : out.data_ptr<scalar_t>() + (t - 1) * B * H;
      const scalar_t* dop = dout.data_ptr<scalar_t>() + t * B * H;
      scalar_t* dx = dxp.data_ptr<scalar_t>() + t * B * G;
      scalar_t* da = dhp.data_ptr<scalar_t>() + t * B * G;
      auto row = zv_all ? gru_row_backward<scalar_t, true> : gru_row_backward<scalar_t, false>;
      for (int64_t r = 0; r < b; ++r) {
        const int64_t k = r * H, q = r * G;
        row(g + q, g + q + H, g + q + 2 * H, a + q + 2 * H, hpv + k, dhv + k, dop + k, dx + q, dx + q + H, dx + q + 2 * H,
            da + q, da + q + H, da + q + 2 * H, tmpv + k, zv_all ? zv_all + t * B * H + k : nullptr, H);
      }
      Tensor dh_b = dh.narrow(0, 0, b);
      if (rec.has_value()) {
        at::mm_out(dh_b, dhp[t].narrow(0, 0, b), w_hh);
        dh_b.mul_(rec->narrow(0, 0, b)).add_(tmp.narrow(0, 0, b));
      } else {
        at::addmm_out(dh_b, tmp.narrow(0, 0, b), dhp[t].narrow(0, 0, b), w_hh);
      }
    }
  });
  return {dxp, dhp};
}


// IndRNN (rnnkit/cells/indrnn.py): H_t = φ(xp_t + u ⊙ (H_{t-1} ⊙ M)), φ = relu or tanh, elementwise
// only (no matmul). The row loops are templates on φ and the mask, with restrict pointers, so that
// the compiler vectorises them (a branch or a possible alias inside them kept it scalar, 4x slower).
template <typename s_t, bool RELU, bool MASK>
void indrnn_rows(s_t* __restrict h, const s_t* __restrict hp, const s_t* __restrict u, const s_t* __restrict m,
                 int64_t b, int64_t H) {
  for (int64_t r = 0; r < b; ++r) {
    s_t* __restrict hr = h + r * H;
    const s_t* __restrict pr = hp + r * H;
    const s_t* __restrict mr = MASK ? m + r * H : nullptr;
    for (int64_t j = 0; j < H; ++j) {
      const s_t a = hr[j] + u[j] * (MASK ? pr[j] * mr[j] : pr[j]);
      hr[j] = RELU ? (a > s_t(0) ? a : s_t(0)) : tanh_poly(a);
    }
  }
}

template <typename s_t, bool RELU, bool MASK>
void indrnn_rows_backward(const s_t* __restrict h, const s_t* __restrict dout, s_t* __restrict g, s_t* __restrict dp,
                          const s_t* __restrict u, const s_t* __restrict m, int64_t b, int64_t H) {
  for (int64_t r = 0; r < b; ++r) {
    const int64_t o = r * H;
    for (int64_t j = 0; j < H; ++j) {
      const s_t hv = h[o + j];
      const s_t d = RELU ? (hv > s_t(0) ? s_t(1) : s_t(0)) : s_t(1) - hv * hv;
      const s_t da = (g[o + j] + dout[o + j]) * d;
      dp[o + j] = da;
      g[o + j] = MASK ? da * u[j] * m[o + j] : da * u[j];
    }
  }
}

// xp (T, B, H), the input projection with its bias, overwritten with H_t; rows past a sequence's end
// (batch_sizes) are set to zero. u (H,) already clamped; rec (B, H) optional.
Tensor indrnn_forward(Tensor xp, const Tensor& h0, const Tensor& u, const c10::optional<Tensor>& rec,
                      std::vector<int64_t> batch_sizes, bool relu) {
  TORCH_CHECK(xp.is_contiguous(), "indrnn_forward: contiguous buffer");
  const int64_t T = xp.size(0), B = xp.size(1), H = xp.size(2);
  Tensor h0c = h0.contiguous(), uc = u.contiguous();
  Tensor recc = rec.has_value() ? rec->contiguous() : Tensor();
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "indrnn_forward", [&] {
    scalar_t* x = xp.data_ptr<scalar_t>();
    const scalar_t* uv = uc.data_ptr<scalar_t>();
    const scalar_t* mv = rec.has_value() ? recc.data_ptr<scalar_t>() : nullptr;
    auto rows = relu ? (mv ? indrnn_rows<scalar_t, true, true> : indrnn_rows<scalar_t, true, false>)
                     : (mv ? indrnn_rows<scalar_t, false, true> : indrnn_rows<scalar_t, false, false>);
    for (int64_t t = 0; t < T; ++t) {
      const int64_t b = rows_at(batch_sizes, t, B);
      scalar_t* h = x + t * B * H;
      rows(h, t == 0 ? h0c.data_ptr<scalar_t>() : x + (t - 1) * B * H, uv, mv, b, H);
      std::memset(h + b * H, 0, sizeof(scalar_t) * (B - b) * H);
    }
  });
  return xp;
}

// IndRNN backward over time. g (B, H): the final state's gradient, updated in place to that of h0.
// Returns dpre (T, B, H), the gradient of the pre-activations (zero past a sequence's end).
Tensor indrnn_backward(const Tensor& out, const Tensor& dout, Tensor g, const Tensor& u,
                       const c10::optional<Tensor>& rec, std::vector<int64_t> batch_sizes, bool relu) {
  TORCH_CHECK(out.is_contiguous() && dout.is_contiguous() && g.is_contiguous(), "indrnn_backward: contiguous inputs");
  const int64_t T = out.size(0), B = out.size(1), H = out.size(2);
  Tensor dpre = buffer({T, B, H}, out.options(), batch_sizes);
  Tensor uc = u.contiguous();
  Tensor recc = rec.has_value() ? rec->contiguous() : Tensor();
  AT_DISPATCH_FLOATING_TYPES(out.scalar_type(), "indrnn_backward", [&] {
    scalar_t* gv = g.data_ptr<scalar_t>();
    const scalar_t* uv = uc.data_ptr<scalar_t>();
    const scalar_t* mv = rec.has_value() ? recc.data_ptr<scalar_t>() : nullptr;
    auto rows = relu ? (mv ? indrnn_rows_backward<scalar_t, true, true> : indrnn_rows_backward<scalar_t, true, false>)
                     : (mv ? indrnn_rows_backward<scalar_t, false, true> : indrnn_rows_backward<scalar_t, false, false>);
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t k = t * B * H;
      rows(out.data_ptr<scalar_t>() + k, dout.data_ptr<scalar_t>() + k, gv, dpre.data_ptr<scalar_t>() + k, uv, mv,
           rows_at(batch_sizes, t, B), H);
    }
  });
  return dpre;
}

// Layer-normalised LSTM forward. xp (T, B, 4H): the input side LN(X W_ih^T; γ_x) + b, read only.
// extra = [γ_h γ_c β_c]. Returns out (T, B, H) = H_t, cs (T, B, H) = C_t, A (T, B, 4H) = H_{t-1} W_hh^T,
// tys (T, B, H) = tanh(LN(C_t)), gates (T, B, 4H) the activated i, f, g, o, and stats (T, B, 4) the
// rows' [mean(A) rstd(A) mean(C) rstd(C)].
std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor> lnlstm_forward(
    const Tensor& xp, const Tensor& h0, const Tensor& c0, const Tensor& w_hh, const Tensor& extra,
    const c10::optional<Tensor>& rec, double eps, std::vector<int64_t> batch_sizes) {
  TORCH_CHECK(xp.is_contiguous() && xp.dim() == 3, "lnlstm_forward: xp must be a contiguous (T, B, 4H)");
  const int64_t T = xp.size(0), B = xp.size(1), G = xp.size(2), H = G / 4;
  auto opts = xp.options();
  Tensor out = buffer({T, B, H}, opts, batch_sizes), cs = buffer({T, B, H}, opts, batch_sizes);
  Tensor tys = buffer({T, B, H}, opts, batch_sizes), A = buffer({T, B, G}, opts, batch_sizes);
  Tensor gates = buffer({T, B, G}, opts, batch_sizes), stats = buffer({T, B, 4}, opts, batch_sizes);
  Tensor w_t = w_hh.t();
  Tensor h0c = h0.contiguous(), c0c = c0.contiguous(), ex = extra.contiguous();
  Tensor hm;  // H_{t-1} ⊙ M with recurrent dropout (masked)
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "lnlstm_forward", [&] {
    const scalar_t* gh = ex.data_ptr<scalar_t>();
    const scalar_t* gc = gh + G;
    const scalar_t* bc = gc + H;
    for (int64_t t = 0; t < T; ++t) {
      const int64_t b = rows_at(batch_sizes, t, B);
      Tensor h_prev = (t == 0 ? h0c : out[t - 1]).narrow(0, 0, b);
      Tensor A_t = A[t].narrow(0, 0, b);
      at::mm_out(A_t, masked(h_prev, rec, hm, b), w_t);
      const scalar_t* x = xp.data_ptr<scalar_t>() + t * B * G;
      scalar_t* g = gates.data_ptr<scalar_t>() + t * B * G;
      const scalar_t* a = A.data_ptr<scalar_t>() + t * B * G;
      const scalar_t* cp = t == 0 ? c0c.data_ptr<scalar_t>() : cs.data_ptr<scalar_t>() + (t - 1) * B * H;
      scalar_t* c = cs.data_ptr<scalar_t>() + t * B * H;
      scalar_t* ty = tys.data_ptr<scalar_t>() + t * B * H;
      scalar_t* h = out.data_ptr<scalar_t>() + t * B * H;
      scalar_t* st = stats.data_ptr<scalar_t>() + t * B * 4;
      for (int64_t r = 0; r < b; ++r) {
        const int64_t k = r * H;
        lnlstm_row(x + r * G, g + r * G, a + r * G, gh, gc, bc, cp + k, c + k, ty + k, h + k, st + 4 * r, H, eps);
      }
    }
  });
  return {out, cs, A, tys, gates, stats};
}

// Its backward over time, with the forward's stats (T, B, 4). dh, dc (B, H) updated in place to the
// gradients of (h0, c0). Returns dgates (T, B, 4H) (of the input side's [i f g o] pre-activations), dA (T, B, 4H) (of H_{t-1} W_hh^T),
// dY (T, B, H) (of LN(C_t)), from which the caller forms dW_hh, and d[γ_h γ_c β_c] (G + 2H, double):
// Σ d[i f g o] ⊙ Â, Σ dY ⊙ Ĉ, Σ dY over every row of every step.
std::tuple<Tensor, Tensor, Tensor, Tensor> lnlstm_backward(const Tensor& gates, const Tensor& cs, const Tensor& A,
                                                   const Tensor& tys, const Tensor& stats, const Tensor& c0,
                                                   const Tensor& dout, Tensor dh, Tensor dc, const Tensor& w_hh,
                                                   const Tensor& extra, const c10::optional<Tensor>& rec,
                                                   std::vector<int64_t> batch_sizes) {
  const int64_t T = gates.size(0), B = gates.size(1), G = gates.size(2), H = G / 4;
  TORCH_CHECK(dh.is_contiguous() && dc.is_contiguous() && dout.is_contiguous() && stats.is_contiguous(),
              "lnlstm_backward: contiguous inputs");
  auto opts = gates.options();
  Tensor dgates = buffer({T, B, G}, opts, batch_sizes), dA = buffer({T, B, G}, opts, batch_sizes);
  Tensor dY = buffer({T, B, H}, opts, batch_sizes);
  Tensor dgain = at::zeros({G + 2 * H}, opts.dtype(at::kDouble));   // d[γ_h γ_c β_c], summed in double
  Tensor c0c = c0.contiguous(), ex = extra.contiguous();
  AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "lnlstm_backward", [&] {
    double* __restrict d_gh = dgain.data_ptr<double>();
    double* __restrict d_gc = d_gh + G;
    double* __restrict d_bc = d_gc + H;
    const scalar_t* gh = ex.data_ptr<scalar_t>();
    const scalar_t* gc = gh + G;
    scalar_t* dhp = dh.data_ptr<scalar_t>();
    scalar_t* dcp = dc.data_ptr<scalar_t>();
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t b = rows_at(batch_sizes, t, B);
      const scalar_t* g = gates.data_ptr<scalar_t>() + t * B * G;
      const scalar_t* a = A.data_ptr<scalar_t>() + t * B * G;
      const scalar_t* cr_all = cs.data_ptr<scalar_t>() + t * B * H;
      const scalar_t* cp = t == 0 ? c0c.data_ptr<scalar_t>() : cs.data_ptr<scalar_t>() + (t - 1) * B * H;
      const scalar_t* ty = tys.data_ptr<scalar_t>() + t * B * H;
      const scalar_t* dop = dout.data_ptr<scalar_t>() + t * B * H;
      scalar_t* dg = dgates.data_ptr<scalar_t>() + t * B * G;
      scalar_t* da = dA.data_ptr<scalar_t>() + t * B * G;
      scalar_t* dy = dY.data_ptr<scalar_t>() + t * B * H;
      const scalar_t* st = stats.data_ptr<scalar_t>() + t * B * 4;
      for (int64_t r = 0; r < b; ++r) {
        const int64_t k = r * H;
        const scalar_t ms = st[4 * r], rs = st[4 * r + 1], mcs = st[4 * r + 2], rc = st[4 * r + 3];
        lnlstm_row_backward(g + r * G, cr_all + k, cp + k, ty + k, dhp + k, dop + k, dcp + k, gc, dg + r * G,
                            dy + k, d_gc, d_bc, H, mcs, rc);
        // LN of the recurrent projection, and its gain's gradient
        ln_backward_gain_row(a + r * G, gh, dg + r * G, da + r * G, d_gh, G, ms, rs);
      }
      Tensor dh_b = dh.narrow(0, 0, b);
      at::mm_out(dh_b, dA[t].narrow(0, 0, b), w_hh);
      if (rec.has_value()) dh_b.mul_(rec->narrow(0, 0, b));
    }
  });
  return {dgates, dA, dY, dgain};
}

// Layer-normalised GRU (rnnkit/cells/layernorm_gru.py). xp (T, B, 3H): the input side LN(X W_ih^T; γ_x) + b_ih,
// overwritten with the activated gates [r z n]; extra = [γ_h (3H), b_hh (3H)]. Returns out (T, B, H),
// A (T, B, 3H) = H_{t-1} W_hh^T and Ah (T, B, 3H) = LN(A; γ_h) + b_hh.
std::tuple<Tensor, Tensor, Tensor> lngru_forward(Tensor xp, const Tensor& h0, const Tensor& w_hh, const Tensor& extra,
                                                 const c10::optional<Tensor>& rec, double eps,
                                                 std::vector<int64_t> batch_sizes) {
  TORCH_CHECK(xp.is_contiguous() && xp.dim() == 3, "lngru_forward: xp must be a contiguous (T, B, 3H)");
  const int64_t T = xp.size(0), B = xp.size(1), G = xp.size(2), H = G / 3;
  auto opts = xp.options();
  Tensor out = buffer({T, B, H}, opts, batch_sizes), A = buffer({T, B, G}, opts, batch_sizes);
  Tensor Ah = buffer({T, B, G}, opts, batch_sizes);
  Tensor w_t = w_hh.t();
  Tensor h0c = h0.contiguous(), ex = extra.contiguous();
  Tensor hm;  // H_{t-1} ⊙ M with recurrent dropout (masked)
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "lngru_forward", [&] {
    const scalar_t* gh = ex.data_ptr<scalar_t>();
    const scalar_t* bh = gh + G;
    for (int64_t t = 0; t < T; ++t) {
      const int64_t b = rows_at(batch_sizes, t, B);
      Tensor h_prev = (t == 0 ? h0c : out[t - 1]).narrow(0, 0, b);
      Tensor A_t = A[t].narrow(0, 0, b);
      at::mm_out(A_t, masked(h_prev, rec, hm, b), w_t);
      scalar_t* x = xp.data_ptr<scalar_t>() + t * B * G;
      const scalar_t* a = A.data_ptr<scalar_t>() + t * B * G;
      scalar_t* ah = Ah.data_ptr<scalar_t>() + t * B * G;
      const scalar_t* hpv = h_prev.data_ptr<scalar_t>();
      scalar_t* h = out.data_ptr<scalar_t>() + t * B * H;
      for (int64_t r = 0; r < b; ++r) {
        const scalar_t* ar = a + r * G;
        scalar_t* ahr = ah + r * G;
        scalar_t* xr = x + r * G;
        scalar_t ms, rs;
        row_stats(ar, G, eps, ms, rs);
        ln_row(ar, gh, bh, ahr, G, ms, rs);
        // the GRU's own row once the recurrent side is LN(A) + b_hh
        gru_row<scalar_t, false>(xr, xr + H, xr + 2 * H, ahr, ahr + H, ahr + 2 * H, hpv + r * H, h + r * H, nullptr, H);
      }
    }
  });
  return {out, A, Ah};
}

// Its backward over time. dh (B, H) updated in place to the gradient of h0. Returns dxp (T, B, 3H) (of the
// input side), dA (of H_{t-1} W_hh^T), from which the caller forms dW_hh, dAh (of LN(A) + b_hh) and
// d[γ_h b_hh] (2 x 3H, double): Σ dAh ⊙ Â and Σ dAh over every row of every step.
std::tuple<Tensor, Tensor, Tensor, Tensor> lngru_backward(const Tensor& gates, const Tensor& A, const Tensor& Ah,
                                                  const Tensor& out, const Tensor& h0, const Tensor& dout, Tensor dh,
                                                  const Tensor& w_hh, const Tensor& extra,
                                                  const c10::optional<Tensor>& rec, double eps,
                                                  std::vector<int64_t> batch_sizes) {
  const int64_t T = gates.size(0), B = gates.size(1), G = gates.size(2), H = G / 3;
  TORCH_CHECK(dh.is_contiguous() && dout.is_contiguous(), "lngru_backward: contiguous inputs");
  auto opts = gates.options();
  Tensor dxp = buffer({T, B, G}, opts, batch_sizes), dA = buffer({T, B, G}, opts, batch_sizes);
  Tensor dAh = buffer({T, B, G}, opts, batch_sizes);
  Tensor dgain = at::zeros({2 * G}, opts.dtype(at::kDouble));   // d[γ_h b_hh], summed in double
  Tensor h0c = h0.contiguous(), ex = extra.contiguous();
  Tensor tmp = at::zeros({B, H}, opts);
  AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "lngru_backward", [&] {
    double* __restrict d_gh = dgain.data_ptr<double>();
    double* __restrict d_bh = d_gh + G;
    const scalar_t* gh = ex.data_ptr<scalar_t>();
    scalar_t* dhv = dh.data_ptr<scalar_t>();
    scalar_t* tmpv = tmp.data_ptr<scalar_t>();
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t b = rows_at(batch_sizes, t, B);
      const scalar_t* g = gates.data_ptr<scalar_t>() + t * B * G;
      const scalar_t* a = A.data_ptr<scalar_t>() + t * B * G;
      const scalar_t* ah = Ah.data_ptr<scalar_t>() + t * B * G;
      const scalar_t* hpv = t == 0 ? h0c.data_ptr<scalar_t>() : out.data_ptr<scalar_t>() + (t - 1) * B * H;
      const scalar_t* dop = dout.data_ptr<scalar_t>() + t * B * H;
      scalar_t* dx = dxp.data_ptr<scalar_t>() + t * B * G;
      scalar_t* da = dA.data_ptr<scalar_t>() + t * B * G;
      scalar_t* dah = dAh.data_ptr<scalar_t>() + t * B * G;
      for (int64_t r = 0; r < b; ++r) {
        const int64_t k = r * H, q = r * G;
        gru_row_backward<scalar_t, false>(g + q, g + q + H, g + q + 2 * H, ah + q + 2 * H, hpv + k, dhv + k, dop + k,
                                          dx + q, dx + q + H, dx + q + 2 * H, dah + q, dah + q + H, dah + q + 2 * H,
                                          tmpv + k, nullptr, H);
        const scalar_t* ar = a + r * G;
        const scalar_t* dahr = dah + r * G;
        scalar_t ms, rs;
        row_stats(ar, G, eps, ms, rs);
        ln_backward_row(ar, gh, dahr, da + r * G, G, ms, rs);
        for (int64_t j = 0; j < G; ++j) {
          d_gh[j] += double(dahr[j] * ((ar[j] - ms) * rs));
          d_bh[j] += double(dahr[j]);
        }
      }
      Tensor dh_b = dh.narrow(0, 0, b);
      at::mm_out(dh_b, dA[t].narrow(0, 0, b), w_hh);
      if (rec.has_value()) dh_b.mul_(rec->narrow(0, 0, b));
      dh_b.add_(tmp.narrow(0, 0, b));
    }
  });
  return {dxp, dA, dAh, dgain};
}

}  // namespace

TORCH_LIBRARY(rnnkit_loops, m) {
  m.def("lstm_forward", &lstm_forward);
  m.def("lstm_backward", &lstm_backward);
  m.def("gru_forward", &gru_forward);
  m.def("gru_backward", &gru_backward);
  m.def("lnlstm_forward", &lnlstm_forward);
  m.def("lnlstm_backward", &lnlstm_backward);
  m.def("lngru_forward", &lngru_forward);
  m.def("lngru_backward", &lngru_backward);
  m.def("indrnn_forward", &indrnn_forward);
  m.def("indrnn_backward", &indrnn_backward);
}
