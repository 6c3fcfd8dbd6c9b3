# A study at the quick start's scale: readers who disagree like radiologists
# ('vindr_like' profiles) at three proficiencies, six arms, one training seed:
# 18 trainings of about 3.5 minutes, about an hour on 2 CPU cores (the quick
# start's arms took 3.5 minutes each on the idle machine). allboxes_earl,
# reliability_wbf_earl and dawid_skene_earl run with --arms.
#   python tools/run_study.py --scale study
#   python tools/run_study.py --scale study --presets vindr_like mixed --seeds 0 1 2
_base_ = './quick.py'
arms = ['truth', 'baseline', 'wbf_earl', 'soft_wbf_earl', 'presence_earl', 'reader_model_earl']
seeds = [0]
study = dict(presets=['vindr_like'], proficiencies=[0.6, 0.7, 0.8])
