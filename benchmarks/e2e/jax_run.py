"""The benchmark's work as a performance-minded JAX user writes it (bench_e2e.py runs it).

`python jax_run.py CONFIG.json`: the whole epoch (shuffle, every minibatch step, the
validation loss and accuracy) is one `jax.jit` function, the steps a `lax.scan`, a partial
last batch kept as its own step; JAX's persistent compilation cache on (as nnspec's kernels
are cached on disk); one printed line per epoch; the weights saved at the end.
"""

import json
import sys

import numpy as np


def main(path):
    cfg = json.load(open(path))
    import jax

    jax.config.update("jax_compilation_cache_dir", cfg["cache"])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    import jax.numpy as jnp
    import optax

    classes = cfg["loss"] == "cce"
    train = np.load(cfg["train"])
    x = jnp.asarray(train["x"], jnp.float32)
    y = jnp.asarray(train["y"], jnp.int32 if classes else jnp.float32).reshape(
        (-1,) if classes else (-1, 1))
    has_val = bool(cfg["val"])
    if has_val:
        val = np.load(cfg["val"])
        xv = jnp.asarray(val["x"], jnp.float32)
        yv = jnp.asarray(val["y"], jnp.int32 if classes else jnp.float32).reshape(
            (-1,) if classes else (-1, 1))
    else:
        xv, yv = x[:1], y[:1]
    n = x.shape[0]
    batch = cfg["batch"] or n
    full, rest = divmod(n, batch)

    key = jax.random.PRNGKey(0)
    params, n_in = [], cfg["inputs"]
    for units, _ in cfg["layers"]:
        key, sub = jax.random.split(key)
        bound = 1.0 / np.sqrt(n_in)
        params.append((jax.random.uniform(sub, (n_in, units), jnp.float32, -bound, bound),
                       jnp.zeros((units,), jnp.float32)))
        n_in = units
    relu = [act == "relu" for _, act in cfg["layers"]]

    def forward(p, xb):
        h = xb
        for (w, b), r in zip(p, relu, strict=True):
            h = h @ w + b
            if r:
                h = jax.nn.relu(h)
        return h  # logits

    def loss_fn(p, xb, yb):
        out = forward(p, xb)
        if classes:
            return optax.softmax_cross_entropy_with_integer_labels(out, yb).mean(), out
        return optax.sigmoid_binary_cross_entropy(out, yb).mean(), out

    def accuracy(out, yb):
        pred = out.argmax(1) if classes else (out >= 0).astype(jnp.float32)
        return (pred == yb).mean()

    opt = cfg["opt"]
    tx = (optax.sgd(opt["lr"], momentum=opt["momentum"]) if opt["kind"] == "sgd"
          else optax.adam(opt["lr"]))
    opt_state = tx.init(params)

    def step(carry, batch_xy):
        p, s = carry
        xb, yb = batch_xy
        (loss, out), grads = jax.value_and_grad(loss_fn, has_aux=True)(p, xb, yb)
        updates, s = tx.update(grads, s, p)
        return (optax.apply_updates(p, updates), s), (loss * len(xb), accuracy(out, yb) * len(xb))

    @jax.jit
    def epoch(p, s, k):
        order = jax.random.permutation(k, n)
        xs, ys = x[order], y[order]
        sums = []
        if full:
            xb = xs[:full * batch].reshape((full, batch) + xs.shape[1:])
            yb = ys[:full * batch].reshape((full, batch) + ys.shape[1:])
            (p, s), (losses, accs) = jax.lax.scan(step, (p, s), (xb, yb))
            sums.append((losses.sum(), accs.sum()))
        if rest:  # the partial last batch, its own step
            (p, s), (loss, acc) = step((p, s), (xs[full * batch:], ys[full * batch:]))
            sums.append((loss, acc))
        loss = sum(a for a, _ in sums) / n
        acc = sum(b for _, b in sums) / n
        vloss, vout = loss_fn(p, xv, yv)
        return p, s, loss, acc, vloss, accuracy(vout, yv)

    for e in range(cfg["epochs"]):
        key, sub = jax.random.split(key)
        params, opt_state, loss, acc, vloss, vacc = epoch(params, opt_state, sub)
        line = f"epoch {e + 1} loss {float(loss):.4f}"
        if cfg["accuracy"]:
            line += f" accuracy {float(acc):.4f}"
        if has_val:
            line += f" val_loss {float(vloss):.4f} val_accuracy {float(vacc):.4f}"
        print(line, flush=True)
    np.savez(cfg["out"] + ".npz", *[np.asarray(a) for layer in params for a in layer])


if __name__ == "__main__":
    main(sys.argv[1])
