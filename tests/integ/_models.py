"""The endpoint integration test's models (costly/integ_endpoint.py): two tiny XGBoost models, written in XGBoost
1.7's JSON model format and packed as SageMaker's built-in XGBoost container reads them, and what each answers.
A module of their own so that ``tests/test_integ.py`` can check the answers with XGBoost itself."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

ROW = "0.9,0.1"
# 0.5 + 0.25 and 0.5 + 0.125 for ROW, exact in float32. The container writes text/csv answers with numpy.savetxt(fmt="%s")
# (array_to_csv in sagemaker-containers' encoders, which serve.py uses): "0.75\n".
ANSWERS = {1: "0.75", 2: "0.625"}


def tiny_model(leaf: float) -> bytes:
    """One tree, one split: ``0.5 - leaf`` when feature 0 < 0.5, else ``0.5 + leaf`` (``reg:squarederror``), in
    XGBoost 1.7's JSON model format (https://github.com/dmlc/xgboost/blob/release_1.7.0/doc/model.schema)."""
    tree = {
        "base_weights": [0.0, -leaf, leaf], "categories": [], "categories_nodes": [], "categories_segments": [],
        "categories_sizes": [], "default_left": [0, 0, 0], "id": 0, "left_children": [1, -1, -1],
        "loss_changes": [1.0, 0.0, 0.0], "parents": [2147483647, 0, 0], "right_children": [2, -1, -1],
        # a leaf's value is its split condition
        "split_conditions": [0.5, -leaf, leaf], "split_indices": [0, 0, 0], "split_type": [0, 0, 0],
        "sum_hessian": [2.0, 1.0, 1.0],
        "tree_param": {"num_deleted": "0", "num_feature": "2", "num_nodes": "3", "size_leaf_vector": "0"},
    }
    model = {"learner": {
        "attributes": {}, "feature_names": [], "feature_types": [],
        "gradient_booster": {"name": "gbtree", "model": {
            "gbtree_model_param": {"num_parallel_tree": "1", "num_trees": "1", "size_leaf_vector": "0"},
            "tree_info": [0], "trees": [tree]}},
        "learner_model_param": {
            "base_score": "5E-1", "boost_from_average": "0", "num_class": "0", "num_feature": "2", "num_target": "1"},
        "objective": {"name": "reg:squarederror", "reg_loss_param": {"scale_pos_weight": "1"}},
    }, "version": [1, 7, 4]}
    return json.dumps(model, sort_keys=True).encode()


def archive(model: bytes) -> bytes:
    """``model.tar.gz`` holding ``xgboost-model.json``, byte for byte the same on every synthesis (the asset's hash
    is in the snapshot): fixed metadata, and gzip at level 0 with no timestamp.

    The built-in XGBoost container (1.7-1) loads the first file of the extracted archive that is not a dotfile,
    trying pickle, then ``xgb.Booster().load_model(path)``
    (src/sagemaker_xgboost_container/algorithm_mode/serve_utils.py, get_loaded_booster, branch 1.7-1 of
    https://github.com/aws/sagemaker-xgboost-container); JSON does not unpickle, and XGBoost's load_model reads a
    ``.json`` file as its JSON model format."""
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("xgboost-model.json")
        info.size, info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = len(model), 0, 0o644, 0, 0, "", ""
        tar.addfile(info, io.BytesIO(model))
    return gzip.compress(tar_bytes.getvalue(), compresslevel=0, mtime=0)
