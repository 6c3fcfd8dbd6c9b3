# A study at the quick start's scale: readers who disagree like radiologists
# ('vindr_like' profiles) at three proficiencies, seven arms, one training seed:
# 21 trainings of about 3.5 minutes, about 75 minutes on 2 CPU cores (the quick
# start's arms took 3.5 minutes each on the idle machine).
#   python tools/run_study.py --scale study
#   python tools/run_study.py --scale study --presets vindr_like mixed --seeds 0 1 2
_base_ = './quick.py'
arms = ['truth', 'baseline', 'wbf_earl', 'allboxes_earl', 'soft_wbf_earl',
        'reliability_wbf_earl', 'dawid_skene_earl', 'presence_earl']
seeds = [0]
study = dict(presets=['vindr_like'], proficiencies=[0.6, 0.7, 0.8])
